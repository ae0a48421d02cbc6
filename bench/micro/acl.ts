// Micro-bench of the ACL checker (src/shared/auth/acl.ts) with a 100-rule Mosquitto acl_file:
// the cost per PUBLISH (canPublish, with its few-topic verdict cache missing and hitting), per delivery without and with the per-client decision
// cache (canRead / canReadCached), per SUBSCRIBE (subscribeVerdict) and per CONNECT (forClient).
// Two files: 10 users with 7 rules each plus 25 patterns and 5 anonymous rules (typical), and one
// user holding 100 rules (the trie's case). Topics: 1,000, about half allowed.
//
//   node bench/micro/acl.ts            (or import { run } and call it; `npm run bench:micro -- acl`)
import { getHeapStatistics } from 'node:v8';
import { Acl, DEFAULT_DECISION_CACHE, type ClientAcl } from '../../src/shared/auth/acl.ts';
import { parseAclFile } from '../../src/shared/auth/acl-file.ts';

export interface AclBenchRow { file: string; op: string; nsPerOp: number; opsPerSec: number; bytesPerOp: number }

function spreadFile(): string {
  const out = ['topic read public/#', 'topic read status/+', 'topic write anon/in', 'topic deny public/private/#', 'topic read $SYS/broker/uptime'];
  for (let u = 0; u < 10; u++) {
    out.push(`user user${u}`);
    out.push(`topic readwrite home/user${u}/#`, `topic read building/${u}/+/temp`, `topic write building/${u}/cmd`,
      `topic read fleet/+/user${u}/#`, `topic readwrite shared/team${u % 3}/#`, `topic deny home/user${u}/vault/#`, `topic read alerts/${u}`);
  }
  for (let p = 0; p < 25; p++) {
    const kind = p % 5 === 0 ? 'deny' : ['read', 'write', 'readwrite'][p % 3];
    out.push(`pattern ${kind} ${['devices/%c', 'users/%u', 'clients/%c/%u', 'tenants/t' + p + '/%u'][p % 4]}/${p % 5 === 0 ? 'locked' : 'ch' + p}/#`);
  }
  return out.join('\n');
}

function oneUserFile(): string {
  const out = ['user big'];
  for (let r = 0; r < 99; r++) out.push(`topic ${r % 10 === 0 ? 'deny' : 'readwrite'} area${r % 20}/${r % 7 === 0 ? '+' : 'zone' + r}/${r % 3 === 0 ? '#' : 'leaf'}`);
  out.push('pattern read devices/%c/#');
  return out.join('\n');
}

function topics(n: number): string[] {
  const t: string[] = [];
  for (let i = 0; i < n; i++) {
    switch (i % 8) {
      case 0: t.push(`home/user3/room${i}/temp`); break;
      case 1: t.push(`building/3/floor${i % 10}/temp`); break;
      case 2: t.push(`devices/dev-3/ch${i % 25}/x`); break;
      case 3: t.push(`area${i % 20}/zone${i % 99}/leaf`); break;
      case 4: t.push(`users/user3/ch${i % 25}/inbox`); break;
      case 5: t.push(`fleet/truck${i}/user3/gps`); break;
      case 6: t.push(`home/user4/room${i}`); break;
      default: t.push(`public/news/${i}`);
    }
  }
  return t;
}

let sink = 0;
const heapAllocated = (): number => (getHeapStatistics() as { total_allocated_bytes?: number }).total_allocated_bytes ?? NaN;

function time(name: string, file: string, minMs: number, fn: () => void, opsPerCall: number): AclBenchRow {
  for (let i = 0; i < 20; i++) fn(); // warm the JIT
  let calls = 0;
  const heap0 = heapAllocated();
  const t0 = process.hrtime.bigint();
  let elapsed = 0;
  do { fn(); calls++; elapsed = Number(process.hrtime.bigint() - t0) / 1e6; } while (elapsed < minMs);
  const bytes = heapAllocated() - heap0;
  const ops = calls * opsPerCall;
  const ns = (elapsed * 1e6) / ops;
  return { file, op: name, nsPerOp: ns, opsPerSec: 1e9 / ns, bytesPerOp: bytes / ops };
}

export function run(opts: { minMs?: number; print?: boolean } = {}): AclBenchRow[] {
  const minMs = opts.minMs ?? 300;
  const ts = topics(1000);
  const rows: AclBenchRow[] = [];
  for (const [label, text, id, user] of [['10 users x 7 + 25 patterns', spreadFile(), 'dev-3', 'user3'], ['1 user x 99 + 1 pattern', oneUserFile(), 'dev-3', 'big']] as const) {
    const acl = new Acl(parseAclFile(text), { decisionCacheSize: 2048 });
    const small = new Acl(parseAclFile(text)).forClient(id, user);
    const rules = text.split('\n').filter((l) => /^(topic|pattern) /.test(l)).length;
    const file = `${label} (${rules} rules)`;
    let client: ClientAcl = acl.forClient(id, user);
    rows.push(time('canPublish (1,000 topics in turn: verdict cache misses)', file, minMs, () => { for (const t of ts) if (client.canPublish(t)) sink++; }, ts.length));
    // a publisher repeating its topic (the loadtest's), and one cycling through 4 (the cache's size)
    const one = ts[0]!;
    rows.push(time('canPublish (one topic again: verdict cache hit)', file, minMs, () => { for (let i = 0; i < 1000; i++) if (client.canPublish(one)) sink++; }, 1000));
    const four = ts.slice(0, 4);
    rows.push(time('canPublish (4 topics in turn: verdict cache hits)', file, minMs, () => { for (let i = 0; i < 1000; i++) if (client.canPublish(four[i & 3]!)) sink++; }, 1000));
    rows.push(time('canRead (no cache)', file, minMs, () => { for (const t of ts) if (client.canRead(t)) sink++; }, ts.length));
    rows.push(time('canReadCached (one topic again: a fan-out asking each subscriber)', file, minMs, () => { for (let i = 0; i < 1000; i++) if (client.canReadCached(one)) sink++; }, 1000));
    rows.push(time('canReadCached (1,000 topics, bound 2,048)', file, minMs, () => { for (const t of ts) if (client.canReadCached(t)) sink++; }, ts.length));
    rows.push(time(`canReadCached (1,000 topics cycling through the default bound ${DEFAULT_DECISION_CACHE}: all misses)`, file, minMs, () => { for (const t of ts) if (small.canReadCached(t)) sink++; }, ts.length));
    rows.push(time('subscribeVerdict (per SUBSCRIBE)', file, minMs, () => { if (client.subscribeVerdict('home/+/room1/#') === 'deny') sink++; if (client.subscribeVerdict('#') === 'grant') sink++; }, 2));
    rows.push(time('forClient (per CONNECT)', file, minMs, () => { client = acl.forClient(id, user); }, 1));
  }
  if (sink === -1) console.log('');
  if (opts.print !== false) {
    console.log('| file | operation | ns/op | ops/s | heap bytes/op |');
    console.log('|---|---|---:|---:|---:|');
    for (const r of rows) console.log(`| ${r.file} | ${r.op} | ${r.nsPerOp.toFixed(0)} | ${(r.opsPerSec / 1e6).toFixed(2)} M | ${r.bytesPerOp.toFixed(0)} |`);
  }
  return rows;
}

if (import.meta.main) run();
