// Where a shard's time went during a CONNECT burst, from a --cpu-prof profile of its thread
// (index.ts --broker-node-options "--cpu-prof --cpu-prof-dir=DIR"):
//   node bench/connect-burst/profile-summary.mjs DIR/CPU.<...>.<thread>.cpuprofile [--top 25] [--after MS]
// The burst is the busiest stretch of the profile (the second with the fewest idle samples,
// widened while the neighbouring 50 ms are at least half busy). Printed: its length and busy
// share, self time by category (GC, program, idle) and by source file and function, and the
// longest runs of busy samples (what held the event loop without a break), with what filled them.
import { readFileSync } from 'node:fs';

const file = process.argv[2];
const arg = (n, d) => (process.argv.includes(n) ? Number(process.argv[process.argv.indexOf(n) + 1]) : d);
const top = arg('--top', 25);
/** Start-up (module loading) is busier than any burst: skip it. */
const after = arg('--after', 2500);
const prof = JSON.parse(readFileSync(file, 'utf8'));
const byId = new Map(prof.nodes.map((n) => [n.id, n]));
const parent = new Map();
for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

const t = []; // sample times, ms from the start
let now = 0;
for (const d of prof.timeDeltas) { now += d / 1000; t.push(now); }
const name = (id) => { const f = byId.get(id).callFrame; return f.functionName || '(anonymous)'; };
const where = (id) => { const f = byId.get(id).callFrame; return f.url ? f.url.replace(/^.*\/(src|node_modules)\//, '$1/') + ':' + (f.lineNumber + 1) : ''; };
const idle = (id) => name(id) === '(idle)';

// The busiest second, then widened.
let best = 0, bestBusy = -1;
for (let i = 0, j = 0, busy = 0; i < t.length; i++) {
  if (t[i] < after) { j = i + 1; continue; }
  if (!idle(prof.samples[i])) busy++;
  while (t[i] - t[j] > 1000) { if (!idle(prof.samples[j])) busy--; j++; }
  if (busy > bestBusy) { bestBusy = busy; best = j; }
}
const busyShare = (from, to) => { let b = 0, n = 0; for (let i = 0; i < t.length; i++) if (t[i] >= from && t[i] < to) { n++; if (!idle(prof.samples[i])) b++; } return n === 0 ? 0 : b / n; };
let from = t[best], to = t[best] + 1000;
while (from > after && busyShare(from - 50, from) >= 0.5) from -= 50;
while (to < now && busyShare(to, to + 50) >= 0.5) to += 50;
// --window FROM-TO (ms of the profile): that stretch instead (e.g. the quiet second before the burst)
const win = process.argv.includes('--window') ? process.argv[process.argv.indexOf('--window') + 1].split('-').map(Number) : null;
if (win) [from, to] = win;
// --burst A-B: monotonic ms (index.ts --worst prints the burst's), the profile's clock
if (process.argv.includes('--burst')) [from, to] = process.argv[process.argv.indexOf('--burst') + 1].split('-').map((x) => Number(x) - prof.startTime / 1000);

// A sample that came long after the one before (the interval is 0.1–1 ms): the thread was not
// running meanwhile (other threads had the cores) or was in a long syscall; the gap is counted
// against the sample's function, so it is reported apart.
const interval = prof.timeDeltas.slice(1).sort((a, b) => a - b)[Math.floor(prof.timeDeltas.length / 2)] / 1000;
const self = new Map(), files = new Map();
let total = 0;
const runs = []; // longest busy stretches
let runStart = -1, runFuncs = new Map();
for (let i = 0; i < t.length; i++) {
  if (t[i] < from || t[i] >= to) continue;
  const id = prof.samples[i];
  const dt = (prof.timeDeltas[i + 1] ?? 0) / 1000;
  total += dt;
  const key = `${name(id)} ${where(id)}`;
  self.set(key, (self.get(key) ?? 0) + dt);
  const f = where(id).split(':')[0] || name(id);
  files.set(f, (files.get(f) ?? 0) + dt);
  if (idle(id)) {
    if (runStart >= 0) runs.push({ start: runStart, ms: t[i] - runStart, funcs: runFuncs });
    runStart = -1; runFuncs = new Map();
  } else {
    if (runStart < 0) runStart = t[i];
    // Attribute to the first frame from our own sources up the stack (what of ours was running).
    let a = id;
    while (a !== undefined && !/\/src\//.test(byId.get(a).callFrame.url)) a = parent.get(a);
    const k = a === undefined ? name(id) : `${name(a)} ${where(a)}`;
    runFuncs.set(k, (runFuncs.get(k) ?? 0) + dt);
    if (dt > Math.max(2, 5 * interval)) runFuncs.set('[gaps]', (runFuncs.get('[gaps]') ?? 0) + dt);
  }
}
let gapMs = 0, gaps = 0;
for (let i = 0; i < t.length; i++) {
  if (t[i] < from || t[i] >= to) continue;
  const dt = (prof.timeDeltas[i + 1] ?? 0) / 1000;
  if (dt > Math.max(2, 5 * interval)) { gaps++; gapMs += dt - interval; }
}
// Each sample's stage of the intake, by the first marker function found walking up its stack.
const STAGES = [
  ['hash pool (shard side)', (n, u) => /piscina|hash-pool/.test(u)],
  ['auth answer: claim, session, CONNACK', (n) => /^(proceedConnect|completeConnect|handleClaim|handleSession|sendSession|claim)$/.test(n)],
  ['CONNECT handling', (n) => n === 'handleConnect'],
  ['held CONNECT (over budget)', (n) => n === 'holdPacket' || n === 'resumePackets'],
  ['accept: Socket, Connection', (n) => /^(onconnection|takeUp|adoptSocket|userBufferSocket|Connection)$/.test(n)],
  ['pair traffic: PUBLISH and delivery', (n, u) => /handlers\/publish|routing\/delivery/.test(u)],
  ['close (shutdown)', (n) => n === 'shutdown' || n === 'connectionClosed'],
];
const stageOf = (id) => {
  const leaf = name(id);
  if (leaf === '(garbage collector)') return 'GC';
  if (leaf === '(idle)') return 'idle';
  for (let a = id; a !== undefined; a = parent.get(a)) {
    const f = byId.get(a).callFrame;
    for (const [stage, test] of STAGES) if (test(f.functionName, f.url)) return stage;
  }
  return 'other (timers, writes, stats, ...)';
};
const stages = new Map([['descheduled (gaps)', gapMs]]);
for (let i = 0; i < t.length; i++) {
  if (t[i] < from || t[i] >= to) continue;
  let dt = (prof.timeDeltas[i + 1] ?? 0) / 1000;
  if (dt > Math.max(2, 5 * interval)) dt = interval;
  const st = stageOf(prof.samples[i]);
  stages.set(st, (stages.get(st) ?? 0) + dt);
}
const pct = (x) => `${(100 * x / total).toFixed(1)}%`;
const sorted = (m) => [...m].sort((a, b) => b[1] - a[1]);
console.log(`${process.argv.includes('--burst') ? 'burst' : 'busiest stretch'}: ${(to - from).toFixed(0)} ms (${from.toFixed(0)}–${to.toFixed(0)} ms of the profile), busy ${pct(total - (self.get('(idle) ') ?? 0))}`);
console.log(`samples ${interval.toFixed(2)} ms apart (median); ${gaps} gaps longer than ${Math.max(2, 5 * interval).toFixed(1)} ms hold ${gapMs.toFixed(1)} ms (${pct(gapMs)}): time the thread did not run (descheduled) or spent in one syscall`);
console.log('\nby stage (gaps apart):');
for (const [k, v] of [...stages].sort((a, b) => b[1] - a[1])) console.log(`  ${v.toFixed(1).padStart(7)} ms ${pct(v).padStart(6)}  ${k}`);
console.log('\nself time by file:');
for (const [k, v] of sorted(files).slice(0, top)) console.log(`  ${v.toFixed(1).padStart(7)} ms ${pct(v).padStart(6)}  ${k}`);
console.log('\nself time by function:');
for (const [k, v] of sorted(self).slice(0, top)) console.log(`  ${v.toFixed(1).padStart(7)} ms ${pct(v).padStart(6)}  ${k}`);
console.log('\nlongest busy runs (no idle sample between):');
for (const r of runs.sort((a, b) => b.ms - a.ms).slice(0, 8)) {
  console.log(`  ${r.ms.toFixed(1)} ms at ${r.start.toFixed(0)}: ${sorted(r.funcs).slice(0, 5).map(([k, v]) => `${k.split(' ')[0]} ${v.toFixed(1)}`).join(', ')}`);
}
if (process.argv.includes('--other')) {
  const other = new Map();
  for (let i = 0; i < t.length; i++) {
    if (t[i] < from || t[i] >= to) continue;
    const id = prof.samples[i];
    if (!stageOf(id).startsWith('other')) continue;
    let dt = (prof.timeDeltas[i + 1] ?? 0) / 1000;
    if (dt > Math.max(2, 5 * interval)) dt = interval;
    // the leaf and the nearest frame of ours
    let a = id;
    while (a !== undefined && !/\/src\//.test(byId.get(a).callFrame.url)) a = parent.get(a);
    const k = `${name(id)} ← ${a === undefined ? '-' : name(a) + ' ' + where(a)}`;
    other.set(k, (other.get(k) ?? 0) + dt);
  }
  console.log('\n"other", by leaf ← nearest frame of ours:');
  for (const [k, v] of sorted(other).slice(0, top)) console.log(`  ${v.toFixed(1).padStart(7)} ms  ${k}`);
}

// --spans A-B,C-D: monotonic ms (index.ts --worst prints a slow message's send time and latency):
// what the thread did between a message's send and its delivery, sample by sample run.
if (process.argv.includes('--spans')) {
  const base = prof.startTime / 1000;
  for (const span of process.argv[process.argv.indexOf('--spans') + 1].split(',')) {
    const [a, b] = span.split('-').map(Number);
    const st = new Map();
    for (let i = 0; i < t.length; i++) {
      const at = base + t[i];
      if (at < a || at >= b) continue;
      let dt = (prof.timeDeltas[i + 1] ?? 0) / 1000;
      let k = stageOf(prof.samples[i]);
      if (dt > Math.max(2, 5 * interval)) { st.set('descheduled (gaps)', (st.get('descheduled (gaps)') ?? 0) + dt - interval); dt = interval; }
      st.set(k, (st.get(k) ?? 0) + dt);
    }
    console.log(`span ${(b - a).toFixed(1)} ms from ${(a - base).toFixed(0)} ms of the profile: ${sorted(st).map(([k, v]) => `${k} ${v.toFixed(1)}`).join(', ')}`);
  }
}

// Event-loop turns in the stretch: a turn ends where its check phase (setImmediate callbacks:
// the intake's later turns) ends, or where the loop goes idle. What matters to other clients is
// the longest turn: their reads wait for the next poll phase. Printed in CPU time (gaps counted
// as one interval) and in wall time.
{
  const isCheck = new Map();
  const inCheck = (id) => {
    if (isCheck.has(id)) return isCheck.get(id);
    let a = id, r = false;
    for (; a !== undefined; a = parent.get(a)) if (byId.get(a).callFrame.functionName === 'processImmediate') { r = true; break; }
    isCheck.set(id, r);
    return r;
  };
  const turns = [];
  let cpu = 0, wall = 0, prevCheck = false, parts = new Map(), at = 0;
  const end = () => { if (wall > 0) turns.push({ cpu, wall, parts, at }); cpu = 0; wall = 0; parts = new Map(); };
  for (let i = 0; i < t.length; i++) {
    if (t[i] < from || t[i] >= to) continue;
    const id = prof.samples[i];
    const dt = (prof.timeDeltas[i + 1] ?? 0) / 1000;
    if (idle(id)) { end(); prevCheck = false; continue; }
    const leaf = name(id);
    const check = leaf === '(garbage collector)' || leaf === '(program)' ? prevCheck : inCheck(id);
    if (prevCheck && !check) end();
    prevCheck = check;
    const c = dt > Math.max(2, 5 * interval) ? interval : dt;
    if (wall === 0) at = t[i];
    cpu += c;
    wall += dt;
    const st = `${stageOf(id)}${check ? ' [check]' : ''}`;
    parts.set(st, (parts.get(st) ?? 0) + c);
    const lk = `  · ${name(id)} ${where(id)}`;
    parts.set(lk, (parts.get(lk) ?? 0) + c);
  }
  end();
  const q = (xs, p) => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor(s.length * p))] ?? NaN; };
  console.log(`\nturns: ${turns.length}; CPU ms p50 ${q(turns.map((x) => x.cpu), 0.5).toFixed(2)}, p99 ${q(turns.map((x) => x.cpu), 0.99).toFixed(2)}, max ${Math.max(...turns.map((x) => x.cpu)).toFixed(2)}; wall ms p99 ${q(turns.map((x) => x.wall), 0.99).toFixed(2)}, max ${Math.max(...turns.map((x) => x.wall)).toFixed(2)}`);
  console.log(`longest turns (CPU ms): ${[...turns].sort((a, b) => b.cpu - a.cpu).slice(0, 8).map((x) => x.cpu.toFixed(1)).join(', ')}`);
  for (const x of [...turns].sort((a, b) => b.cpu - a.cpu).slice(0, 4)) {
    const p = sorted(x.parts);
    console.log(`  ${x.cpu.toFixed(1)} ms at ${x.at.toFixed(0)}: ${p.filter(([k]) => !k.startsWith('  ·')).map(([k, v]) => `${k} ${v.toFixed(1)}`).join(', ')}`);
    console.log(`    self: ${p.filter(([k]) => k.startsWith('  ·')).slice(0, 6).map(([k, v]) => `${k.slice(4)} ${v.toFixed(1)}`).join(', ')}`);
  }
}
