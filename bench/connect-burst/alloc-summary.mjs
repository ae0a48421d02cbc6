// What a burst allocates per connection in a shard, by the nearest frame of our sources, from two
// alloc-prof.mjs profiles of the same build: a run with --burst 1 and one with --burst N.
//   node bench/connect-burst/alloc-summary.mjs ONE.heapprofile BURST.heapprofile [N-1=999] [--top 30]
// The profiler's own allocations (node:inspector) are left out. The pair's traffic allocates
// too, in proportion to the run's length: compare runs of similar burst times.
import { readFileSync } from 'node:fs';

const [one, burst] = process.argv.slice(2, 4);
const per = Number(process.argv[4]) || 999;
const top = process.argv.includes('--top') ? Number(process.argv[process.argv.indexOf('--top') + 1]) : 30;

function load(file) {
  const p = JSON.parse(readFileSync(file, 'utf8'));
  const ours = new Map(), leaf = new Map();
  const walk = (n, stack) => {
    const st = [...stack, n.callFrame];
    if (n.selfSize > 0 && !st.some((x) => /inspector/.test(x.url))) {
      const o = [...st].reverse().find((x) => /\/(src|bench)\//.test(x.url));
      const k = o ? `${o.functionName || '(anonymous)'} ${o.url.replace(/^.*\/src\//, '')}:${o.lineNumber + 1}` : '(no frame of ours)';
      ours.set(k, (ours.get(k) ?? 0) + n.selfSize);
      const f = n.callFrame;
      const kl = `${f.functionName || '(anonymous)'} ${f.url.replace(/^.*\/(src|node_modules)\//, '')}:${f.lineNumber + 1} ← ${k}`;
      leaf.set(kl, (leaf.get(kl) ?? 0) + n.selfSize);
    }
    for (const c of n.children) walk(c, st);
  };
  walk(p.head, []);
  return { ours, leaf };
}

const a = load(one), b = load(burst);
for (const [key, title] of [['ours', 'by the nearest frame of ours'], ['leaf', 'by the allocating function ← the nearest frame of ours']]) {
  const d = new Map();
  for (const [k, v] of b[key]) d.set(k, v - (a[key].get(k) ?? 0));
  let tot = 0;
  for (const v of d.values()) tot += v;
  console.log(`${title}: ${(tot / 1e6).toFixed(1)} MB more, ${(tot / per).toFixed(0)} B per connection`);
  for (const [k, v] of [...d].sort((x, y) => y[1] - x[1]).slice(0, top)) console.log(`${(v / per).toFixed(0).padStart(7)} B  ${k}`);
}
