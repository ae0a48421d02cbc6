// What the broker's threads were doing while other clients waited (issue #13), two ways, into
// BENCH_PROBE_OUT (default /tmp/shoal-thread-probe.log), on CLOCK_MONOTONIC in ms (index.ts
// --worst prints the slow messages and the burst on the same clock):
//   node bench/connect-burst/index.ts --brokers shoal --runs 1 --worst \
//     --broker-node-options="--import=$PWD/bench/connect-burst/thread-probe.mjs"
// - every thread (main, each shard, the hash pool's): a 1 ms timer; a tick more than 3 ms late
//   is logged with the thread's CPU time and run-queue wait over it (/proc/thread-self/schedstat):
//   CPU ≈ the gap: the thread was busy; run-queue wait ≈ the gap: it waited for a core; neither:
//   it slept (a lock, a blocking syscall, an unanswered epoll_wait);
// - with BENCH_THREAD_STATES=1, a child process samples every thread's state, kernel wait
//   channel and syscall (/proc/PID/task/TID/{stat,wchan,syscall}) every ~0.3 ms for 25 s and
//   logs each change: `D synchronize_rcu_normal 288` is accept4 waiting for a grace period.
// Linux only.
import { appendFileSync, readdirSync, readFileSync } from 'node:fs';
import { isMainThread, threadId } from 'node:worker_threads';

const out = process.env.BENCH_PROBE_OUT ?? '/tmp/shoal-thread-probe.log';
const mono = () => Number(process.hrtime.bigint() / 1000n) / 1000;

if (process.argv[2] === '--sample-states') {
  const pid = process.argv[3];
  const prev = new Map();
  const lines = [];
  const end = mono() + 25_000;
  const read = (f) => { try { return readFileSync(f, 'utf8'); } catch { return null; } };
  const step = () => {
    let tids;
    try { tids = readdirSync(`/proc/${pid}/task`); } catch { appendFileSync(out, lines.join('')); return; }
    const now = mono().toFixed(1);
    for (const t of tids) {
      const st = read(`/proc/${pid}/task/${t}/stat`);
      if (st === null) continue;
      const name = st.slice(st.indexOf('(') + 1, st.lastIndexOf(')'));
      const state = st[st.lastIndexOf(')') + 2];
      const key = `${state} ${read(`/proc/${pid}/task/${t}/wchan`) ?? '?'} ${state === 'R' ? '-' : (read(`/proc/${pid}/task/${t}/syscall`) ?? '?').split(' ')[0]}`;
      if (prev.get(t) !== key) { lines.push(`${now} ${t} ${name} ${key}\n`); prev.set(t, key); }
    }
    if (lines.length > 200) { appendFileSync(out, lines.join('')); lines.length = 0; }
    if (mono() < end) setImmediate(step); else appendFileSync(out, lines.join(''));
  };
  step();
} else {
  const schedstat = () => { const f = readFileSync('/proc/thread-self/schedstat', 'utf8').split(' '); return [Number(f[0]) / 1e6, Number(f[1]) / 1e6]; };
  const who = isMainThread ? 'main' : `thread${threadId}`;
  let last = mono(), lastS = schedstat();
  const lines = [];
  setInterval(() => {
    const now = mono(), s = schedstat(), gap = now - last;
    if (gap > 3) lines.push(`${who} ${last.toFixed(1)} gap ${gap.toFixed(1)} cpu ${(s[0] - lastS[0]).toFixed(1)} runq ${(s[1] - lastS[1]).toFixed(1)}\n`);
    last = now; lastS = s;
  }, 1).unref();
  setInterval(() => { if (lines.length > 0) { appendFileSync(out, lines.join('')); lines.length = 0; } }, 200).unref();
  if (isMainThread && process.env.BENCH_THREAD_STATES === '1') {
    const { spawn } = await import('node:child_process');
    spawn(process.execPath, [new URL(import.meta.url).pathname, '--sample-states', String(process.pid)], { stdio: 'ignore', env: { ...process.env, NODE_OPTIONS: '' } }).unref();
  }
}
