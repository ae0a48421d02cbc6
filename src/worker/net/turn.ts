// The end of an event-loop turn, where a shard sends what the turn produced: the connections
// written to (one write each) and the frames committed to peer rings (one doorbell per peer).
//
// A turn is a read callback or a doorbell wake (enter/leave around it): what it asks to run
// at its end runs when it returns, synchronously. Outside one (timers, promise answers, drain
// events) the first request schedules one nextTick for all. In a round trip every message is
// alone in its turn, so the nextTick this saves is paid per message: its tick object, the tick
// queue and the async-hooks bookkeeping around it, once for the socket writes and once for the
// ring flush of a message bound for another shard.

type Task = () => void;

const tasks: (Task | undefined)[] = [];
let n = 0;
/** Turns in progress (a drain inside a read callback nests). */
let open = 0;
/** A nextTick run is pending, or the tasks are running now: new ones join that run. */
let scheduled = false;

/** A read callback or a doorbell wake begins. Pair with leave() in a finally. */
export function enterTurn(): void { open++; }

/** It ended: the last one out runs what was asked for meanwhile. */
export function leaveTurn(): void {
  if (--open === 0 && n > 0 && !scheduled) runTasks();
}

/**
 * Runs `task` at the end of this turn. The caller asks once per turn (its own flag says so);
 * a task may ask for others, which run in the same loop after it.
 */
export function atTurnEnd(task: Task): void {
  tasks[n++] = task;
  if (open === 0 && !scheduled) { scheduled = true; process.nextTick(runTasks); }
}

let next = 0;

function runTasks(): void {
  scheduled = true;
  try {
    // Slots are cleared, never truncated (an array length store is a V8 runtime call).
    while (next < n) {
      const t = tasks[next]!;
      tasks[next++] = undefined;
      t();
    }
  } catch (err) {
    // The rest still run (each caller's flag says it is scheduled), in the next tick.
    process.nextTick(runTasks);
    throw err;
  }
  n = 0;
  next = 0;
  scheduled = false;
}
