// npm run fuzz -- --iterations N --seed S [--shards K] [--protocol 3.1.1|5|both]
// Starts the real broker as a child process, sends mutated fixture packets and random byte
// streams over many short TCP connections (often after a valid CONNECT, to reach deeper
// states), and after every batch checks the broker (checker.ts). Stops at the first failed
// check, prints the seed, the batch's iterations and the broker's stderr tail, and saves
// the batch to a file that `--replay FILE` sends again.
import { parseArgs } from 'node:util';
import os from 'node:os';
import path from 'node:path';
import { startBrokerOf, type Broker } from '../test/helpers/broker.ts';
import { buildCorpus, type Protocol } from './corpus.ts';
import { generate, type FuzzInput } from './inputs.ts';
import { sendAll } from './sender.ts';
import { Checker } from './checker.ts';
import { loadReplay, saveReplay } from './replay-file.ts';

const USAGE = `usage: npm run fuzz -- [options]

  --iterations N       inputs to send (default 10000)
  --seed S             PRNG seed, 0..4294967295 (default: random, printed)
  --shards K           broker shards (default 4)
  --protocol P         3.1.1 (with 3.1), 5 or both (default both)
  --batch N            inputs between two checks (default 200)
  --concurrency N      connections at once (default 32)
  --linger MS          how long a connection stays open after its last write (default 20)
  --probe-deadline MS  the probe's QoS 1 round trip must finish within this (default 2000)
  --rss-limit MB       the broker's RSS must stay below this (default 1024)
  --allow-error-logs   count error-level broker log lines but go on (a shard death still stops)
  --out DIR            where a failing batch is saved (default: shoal-fuzz in the temp dir)
  --replay FILE        send a saved batch again (all at once, then one by one) and check
  --json               print the summary as one JSON object
  -h, --help           this text

Exit 0: every check passed; 1: a check failed (or the replay reproduced it); 2: usage.`;

interface Settings {
  iterations: number;
  seed: number;
  shards: number;
  protocol: Protocol;
  batch: number;
  concurrency: number;
  lingerMs: number;
  probeDeadlineMs: number;
  rssLimitBytes: number;
  allowErrorLogs: boolean;
  out: string;
  replay: string | null;
  json: boolean;
}

class UsageError extends Error {}

function int(name: string, v: string | undefined, fallback: number, min: number, max: number): number {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) throw new UsageError(`--${name} must be an integer from ${min} to ${max}, got "${v}"`);
  return n;
}

function parse(argv: string[]): Settings | null {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv, strict: true, allowPositionals: false,
      options: {
        iterations: { type: 'string' }, seed: { type: 'string' }, shards: { type: 'string' }, protocol: { type: 'string' },
        batch: { type: 'string' }, concurrency: { type: 'string' }, linger: { type: 'string' },
        'probe-deadline': { type: 'string' }, 'rss-limit': { type: 'string' }, 'allow-error-logs': { type: 'boolean', default: false },
        out: { type: 'string' }, replay: { type: 'string' }, json: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }));
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err));
  }
  if (values.help) return null;
  const protocol = values.protocol ?? 'both';
  if (protocol !== '3.1.1' && protocol !== '5' && protocol !== 'both') throw new UsageError(`--protocol must be 3.1.1, 5 or both, got "${protocol}"`);
  return {
    iterations: int('iterations', values.iterations, 10_000, 1, 1e9),
    seed: int('seed', values.seed, Math.floor(Math.random() * 0x1_0000_0000), 0, 0xffffffff),
    shards: int('shards', values.shards, 4, 1, 64),
    protocol,
    batch: int('batch', values.batch, 200, 1, 1e6),
    concurrency: int('concurrency', values.concurrency, 32, 1, 10_000),
    lingerMs: int('linger', values.linger, 20, 0, 60_000),
    probeDeadlineMs: int('probe-deadline', values['probe-deadline'], 2000, 1, 600_000),
    rssLimitBytes: int('rss-limit', values['rss-limit'], 1024, 1, 1_000_000) * 2 ** 20,
    allowErrorLogs: values['allow-error-logs'],
    out: values.out ?? path.join(os.tmpdir(), 'shoal-fuzz'),
    replay: values.replay ?? null,
    json: values.json,
  };
}

const say = (line: string): void => { process.stderr.write(`fuzz: ${line}\n`); };

async function startChecked(s: Settings, versions: Parameters<Checker['start']>[0]): Promise<{ broker: Broker; checker: Checker }> {
  // warn: the broker's error lines (and anything worse) reach stderr, info chatter does not.
  const broker = await startBrokerOf('shoal', { shards: s.shards, extraArgs: ['--log-level', 'warn'] });
  const checker = new Checker(broker, { probeDeadlineMs: s.probeDeadlineMs, rssLimitBytes: s.rssLimitBytes, allowErrorLogs: s.allowErrorLogs });
  await checker.start(versions);
  return { broker, checker };
}

async function fuzz(s: Settings): Promise<number> {
  const corpus = buildCorpus(s.protocol);
  say(`seed ${s.seed}, ${s.iterations} inputs, ${s.shards} shards, protocol ${s.protocol}`);
  const { broker, checker } = await startChecked(s, corpus.versions);
  const t0 = performance.now();
  let done = 0;
  let failure: { reason: string; from: number; to: number; file: string } | null = null;
  let lastProgress = t0;
  let closedByBroker = 0;
  try {
    while (done < s.iterations && failure === null) {
      const from = done;
      const n = Math.min(s.batch, s.iterations - done);
      const inputs: FuzzInput[] = Array.from({ length: n }, (_, k) => generate(corpus, s.seed, from + k));
      const outcomes = await sendAll(broker.port, inputs, s.concurrency, s.lingerMs);
      done += n;
      closedByBroker += outcomes.filter((o) => o.closedByBroker).length;
      let reason = await checker.check();
      if (reason === null && outcomes.some((o) => o.refused)) reason = 'the broker refused connections';
      // Going on past error lines: still keep the batch that first showed each kind.
      for (const k of reason === null ? checker.takeNewKinds() : []) {
        const file = saveReplay(s.out, { seed: s.seed, shards: s.shards, protocol: s.protocol, from, to: from + n - 1, reason: `error-level log line: ${k.line}`, stderrTail: '' }, inputs);
        say(`new error log line at iterations ${from}..${from + n - 1}: ${k.kind} (batch saved to ${file})`);
      }
      if (reason !== null) {
        const file = saveReplay(s.out, { seed: s.seed, shards: s.shards, protocol: s.protocol, from, to: from + n - 1, reason, stderrTail: broker.stderr().slice(-4000) }, inputs);
        failure = { reason, from, to: from + n - 1, file };
      }
      const now = performance.now();
      if (now - lastProgress > 10_000) {
        lastProgress = now;
        say(`${done} inputs, ${Math.round(done / ((now - t0) / 1000))}/s, broker RSS max ${Math.round(checker.maxRssBytes / 2 ** 20)} MiB`);
      }
    }
  } finally {
    await checker.stop();
    if (failure === null) await broker.stop().catch(() => undefined);
    else await broker.kill();
  }
  const seconds = (performance.now() - t0) / 1000;
  const summary = {
    tool: 'shoal-fuzz', seed: s.seed, shards: s.shards, protocol: s.protocol, inputs: done, seconds: Math.round(seconds * 10) / 10,
    rate: Math.round(done / seconds), crashes: failure !== null && /exited|shard died/.test(failure.reason) ? 1 : 0,
    closedByBroker, errorLogLines: checker.errorCount, errorKinds: Object.fromEntries(checker.errorKinds), maxRssMiB: Math.round(checker.maxRssBytes / 2 ** 20), failure,
  };
  if (failure !== null) {
    say(`FAILED at iterations ${failure.from}..${failure.to} of seed ${s.seed}: ${failure.reason}`);
    say(`saved to ${failure.file}; replay: npm run fuzz -- --replay ${failure.file}`);
    say(`broker stderr (tail):\n${broker.stderr().slice(-3000)}`);
  }
  for (const [kind, n] of checker.errorKinds) say(`error log line ${n}×: ${kind}`);
  process.stdout.write(s.json ? `${JSON.stringify(summary)}\n`
    : `seed ${s.seed}: ${done} inputs in ${summary.seconds} s (${summary.rate}/s), ${s.shards} shards, protocol ${s.protocol}; ` +
      `${closedByBroker} closed by the broker before our close; ${failure === null ? 'every check passed' : `FAILED: ${failure.reason}`}; error log lines ${summary.errorLogLines}; broker RSS max ${summary.maxRssMiB} MiB\n`);
  return failure === null ? 0 : 1;
}

async function replay(s: Settings, replayPath: string): Promise<number> {
  const { file, inputs } = loadReplay(replayPath);
  say(`replaying ${inputs.length} inputs of seed ${file.seed} (iterations ${file.from}..${file.to}, ${file.shards} shards); it failed with: ${file.reason}`);
  const settings = { ...s, shards: s.shards === 4 && file.shards !== undefined ? file.shards : s.shards };
  const { broker, checker } = await startChecked(settings, [...new Set(inputs.map((i) => i.version))]);
  let reason: string | null = null;
  let culprit: FuzzInput | null = null;
  try {
    // One at a time first, to name the input; then all at once, as in the run (a race
    // between connections shows only that way).
    for (const input of inputs) {
      await sendAll(broker.port, [input], 1, s.lingerMs);
      reason = await checker.check();
      if (reason !== null) { culprit = input; break; }
    }
    if (reason === null) {
      await sendAll(broker.port, inputs, s.concurrency, s.lingerMs);
      reason = await checker.check();
    }
  } finally {
    await checker.stop();
    await broker.kill();
  }
  if (reason === null) {
    process.stdout.write(`replay of ${replayPath}: did not reproduce (every check passed)\n`);
    return 0;
  }
  process.stdout.write(`replay of ${replayPath}: reproduced: ${reason}${culprit !== null ? ` (after iteration ${culprit.iteration} alone)` : ' (with the batch sent at once)'}\n`);
  if (culprit !== null) {
    process.stdout.write(`iteration ${culprit.iteration} (${culprit.kind}, version ${culprit.version}): connect ${culprit.connect?.toString('hex') ?? 'none'}${culprit.waitConnack ? ' (then waits for CONNACK)' : ''}; writes: ${culprit.chunks.map((c) => c.toString('hex')).join(' | ')}\n`);
  }
  say(`broker stderr (tail):\n${broker.stderr().slice(-3000)}`);
  return 1;
}

async function main(): Promise<void> {
  // Ctrl-C or a timeout's SIGTERM: exit through process.exit so the broker helper's exit
  // hook kills the broker child instead of leaving it behind.
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => process.exit(130));
  let s: Settings | null;
  try {
    s = parse(process.argv.slice(2));
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`fuzz: ${err.message}\n${USAGE}\n`);
    process.exitCode = 2;
    return;
  }
  if (s === null) { process.stdout.write(`${USAGE}\n`); return; }
  process.exitCode = s.replay !== null ? await replay(s, s.replay) : await fuzz(s);
}

main().catch((err: unknown) => {
  process.stderr.write(`fuzz: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exitCode = 2;
});
