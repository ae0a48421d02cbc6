// One fuzz input: what to send on one fresh TCP connection. Generated from (seed, iteration)
// alone, so the same seed gives the same inputs in the same order on any machine.
import { Prng } from './prng.ts';
import { mutate } from './mutators.ts';
import { validConnect, type Corpus, type Version } from './corpus.ts';

export interface FuzzInput {
  iteration: number;
  version: Version;
  /** How it was made, for the report: mutated first packet, packets after a CONNECT, random bytes. */
  kind: 'first' | 'session' | 'random';
  /** A valid CONNECT sent first, or null. */
  connect: Buffer | null;
  /** Wait for the broker's first answer (CONNACK) before sending the rest. */
  waitConnack: boolean;
  /** The rest, one socket write each. */
  chunks: Buffer[];
}

/** How many client ids the session inputs share: collisions make takeovers. */
const CLIENT_IDS = 200;

export function generate(corpus: Corpus, seed: number, iteration: number): FuzzInput {
  const r = new Prng(seed, iteration);
  const roll = r.int(100);
  const version = r.pick(corpus.versions);
  const packets: Buffer[] = [];
  let kind: FuzzInput['kind'];
  let connect: Buffer | null = null;
  if (roll < 35) {
    kind = 'first';
    const f = r.pick(corpus.first);
    packets.push(r.chance(0.85) ? mutate(r, f.bytes) : f.bytes);
    if (r.chance(0.3)) packets.push(...sessionPackets(r, corpus, f.version, r.int(3) + 1));
    return finish(r, { iteration, version: f.version, kind, connect, waitConnack: false, chunks: [] }, packets);
  }
  if (roll < 80) {
    kind = 'session';
    connect = validConnect(version, `fz${r.int(CLIENT_IDS)}`, r.pick([0, 0, 0, 2, 60]));
    packets.push(...sessionPackets(r, corpus, version, r.int(6) + 1));
  } else {
    kind = 'random';
    if (r.chance(0.5)) connect = validConnect(version, `fz${r.int(CLIENT_IDS)}`, 0);
    // Random bytes, half of them behind a plausible fixed header.
    const body = r.bytes(r.int(600) + 1);
    if (r.chance(0.5)) body[0] = (r.int(16) << 4) | r.int(16);
    packets.push(body);
  }
  return finish(r, { iteration, version, kind, connect, waitConnack: connect !== null && r.chance(0.5), chunks: [] }, packets);
}

function sessionPackets(r: Prng, corpus: Corpus, version: Version, n: number): Buffer[] {
  const pool = corpus.session.get(version) ?? [];
  const out: Buffer[] = [];
  for (let i = 0; i < n && pool.length > 0; i++) {
    const f = r.pick(pool);
    out.push(r.chance(0.6) ? mutate(r, f.bytes) : f.bytes);
  }
  return out;
}

/** Joins the packets and, sometimes, cuts the stream at random points into several writes. */
function finish(r: Prng, input: FuzzInput, packets: Buffer[]): FuzzInput {
  const all = Buffer.concat(packets);
  if (all.length < 2 || !r.chance(0.3)) {
    input.chunks = [all];
    return input;
  }
  const cuts = [...new Set(Array.from({ length: r.int(3) + 1 }, () => r.int(all.length - 1) + 1))].sort((a, b) => a - b);
  let from = 0;
  for (const c of cuts) {
    input.chunks.push(all.subarray(from, c));
    from = c;
  }
  input.chunks.push(all.subarray(from));
  return input;
}

/** JSON form of an input (bytes as hex), for the replay file. */
export interface SavedInput {
  iteration: number;
  version: Version;
  kind: FuzzInput['kind'];
  connect: string | null;
  waitConnack: boolean;
  chunks: string[];
}

export function toSaved(i: FuzzInput): SavedInput {
  return {
    iteration: i.iteration, version: i.version, kind: i.kind, connect: i.connect?.toString('hex') ?? null,
    waitConnack: i.waitConnack, chunks: i.chunks.map((c) => c.toString('hex')),
  };
}

export function fromSaved(s: SavedInput): FuzzInput {
  return {
    iteration: s.iteration, version: s.version, kind: s.kind, connect: s.connect === null ? null : Buffer.from(s.connect, 'hex'),
    waitConnack: s.waitConnack, chunks: s.chunks.map((c) => Buffer.from(c, 'hex')),
  };
}
