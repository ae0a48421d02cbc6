// Micro-benchmark: what ending a turn costs (src/worker/net/turn.ts). In a round trip every
// message is alone in its event-loop turn, so this is paid per message, twice for a message
// bound for another shard (its socket writes, its ring flush and doorbell).
//
//   bare       the turn itself: a setImmediate callback (stands in for a libuv read callback)
//   nextTick   + one process.nextTick for the end-of-turn work (the path before turn.ts)
//   turn       + enterTurn / atTurnEnd / leaveTurn: the work runs as the callback returns
//
// Each cell is user+system CPU per turn (process.cpuUsage), median of several runs, the bare
// chain's cost subtracted from the others. For instruction counts, which do not move with the
// machine's load:
//
//   valgrind --tool=callgrind --callgrind-out-file=/dev/null node bench/micro/turn.ts --mode nextTick --turns 20000
//
// and compare the "Collected" totals of the modes (each minus bare).

import { atTurnEnd, enterTurn, leaveTurn } from '../../src/worker/net/turn.ts';

type Mode = 'bare' | 'nextTick' | 'turn';
const MODES: Mode[] = ['bare', 'nextTick', 'turn'];

let sink = 0;
function work(): void { sink++; }

function chain(mode: Mode, turns: number): Promise<number> {
  return new Promise((resolve) => {
    let left = turns;
    const t0 = process.cpuUsage();
    const step = (): void => {
      if (mode === 'nextTick') process.nextTick(work);
      else if (mode === 'turn') { enterTurn(); atTurnEnd(work); leaveTurn(); }
      if (--left > 0) { setImmediate(step); return; }
      const d = process.cpuUsage(t0);
      resolve(((d.user + d.system) * 1000) / turns);
    };
    setImmediate(step);
  });
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1]!;
}

export async function run(opts: { runs?: number; turns?: number; print?: boolean } = {}): Promise<Record<Mode, number>> {
  const runs = opts.runs ?? 7;
  const turns = opts.turns ?? 200_000;
  const ns: Record<Mode, number[]> = { bare: [], nextTick: [], turn: [] };
  await chain('nextTick', turns / 10); await chain('turn', turns / 10); // warm up
  // Alternate the modes within each run so drift in the machine's load hits all alike.
  for (let r = 0; r < runs; r++) for (const m of MODES) ns[m].push(await chain(m, turns));
  const bare = median(ns.bare);
  const out = { bare, nextTick: median(ns.nextTick) - bare, turn: median(ns.turn) - bare };
  if (opts.print !== false) {
    console.log(`| what | CPU per turn (ns) |\n|---|---:|`);
    console.log(`| bare setImmediate turn | ${bare.toFixed(0)} |`);
    console.log(`| + nextTick for the end-of-turn work | ${out.nextTick.toFixed(0)} |`);
    console.log(`| + enterTurn / atTurnEnd / leaveTurn | ${out.turn.toFixed(0)} |`);
  }
  return out;
}

if (import.meta.main) {
  const args = process.argv.slice(2);
  const at = (name: string): string | undefined => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : undefined; };
  const mode = at('--mode') as Mode | undefined;
  const turns = Number(at('--turns') ?? 200_000);
  if (mode !== undefined) {
    // One mode, once: for valgrind/perf, which count what the process does.
    if (!MODES.includes(mode)) { console.error(`--mode must be one of ${MODES.join(', ')}`); process.exit(2); }
    const ns = await chain(mode, turns);
    console.log(`${mode}: ${turns} turns, ${ns.toFixed(0)} ns CPU per turn (sink ${sink})`);
  } else {
    await run({ runs: Number(at('--runs') ?? 7), turns });
  }
}
