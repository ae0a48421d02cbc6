// Differential runs: the same raw-packet scenario against Shoal and against Mosquitto (the
// reference implementation, Debian's `mosquitto`), each answer written down as a transcript of
// bytes, so a test can say "both answer alike" or "they differ, and here is how" — and the
// docs (docs/conformance.md) say which answer the specification supports.
//
// A scenario drives named raw connections through a `Talk`: it sends bytes and reads whatever
// arrives within a short quiet period; everything received (and each close) goes into the
// transcript with the connection's name. Transcripts show packets as hex, with the few bytes
// that differ by design between brokers normalised away: CONNACK properties (each broker
// advertises its own limits) and DISCONNECT properties (a Reason String is free text).
import { existsSync } from 'node:fs';
import { startBrokerOf, MOSQUITTO_BIN, type Broker } from './broker.ts';
import { RawClient, hex, type Frame, type Version } from './raw.ts';

export const mosquittoInstalled = existsSync(MOSQUITTO_BIN);
/** Test options that skip (with the reason) when the mosquitto binary is not installed. */
export const needsMosquitto = (): { skip?: string } =>
  mosquittoInstalled ? {} : { skip: `mosquitto not installed (${MOSQUITTO_BIN}); apt-get install mosquitto` };

export interface Talk {
  /** Opens a raw TCP connection named `name` (protocol version for decoding replies). */
  open(name: string, version: Version): Promise<void>;
  /** Writes bytes on a connection. */
  send(name: string, bytes: Buffer): void;
  /** Waits until `name` has been quiet for `quietMs` (or closed), recording what arrived. */
  settle(name: string, quietMs?: number): Promise<void>;
  /** Records a line of the scenario's own (e.g. a step marker). */
  note(text: string): void;
}

export type Scenario = (t: Talk) => Promise<void>;

/** Normalises a received frame to a transcript line. */
function line(name: string, f: Frame): string {
  if (f.cmd === 'connack') {
    // v5 CONNACK: keep flags and reason code; properties are each broker's own limits.
    const raw = f.raw;
    let pos = 1;
    while (raw[pos]! & 0x80) pos++;
    pos++;
    return `${name} < connack ${hex(raw.subarray(pos, pos + 2))}`;
  }
  if (f.cmd === 'disconnect') {
    // The reason code decides; a Reason String is free text (each broker words it its own way).
    return `${name} < disconnect ${hex(f.raw.subarray(0, 1))} reason ${hex(f.raw.subarray(2, 3)) || '00'}`;
  }
  return `${name} < ${f.cmd} ${hex(f.raw)}`;
}

class Recorder implements Talk {
  readonly transcript: string[] = [];
  private readonly conns = new Map<string, RawClient>();
  private readonly broker: Broker;
  constructor(broker: Broker) { this.broker = broker; }

  async open(name: string, version: Version): Promise<void> {
    this.conns.set(name, await RawClient.open(this.broker.port, { version }));
  }

  send(name: string, bytes: Buffer): void {
    this.conns.get(name)!.send(bytes);
  }

  async settle(name: string, quietMs = 300): Promise<void> {
    const c = this.conns.get(name)!;
    for (;;) {
      try {
        const f = await c.next(quietMs, 'quiet');
        this.transcript.push(line(name, f));
      } catch (e) {
        const msg = (e as Error).message;
        if (msg.startsWith('connection closed')) {
          if (!this.transcript.includes(`${name} closed`)) this.transcript.push(`${name} closed`);
        }
        return;
      }
    }
  }

  note(text: string): void { this.transcript.push(`# ${text}`); }

  close(): void { for (const c of this.conns.values()) c.destroy(); }
}

/**
 * A Shoal (1 shard, memory) and a Mosquitto broker started once and used for many scenarios;
 * scenarios keep apart by their own client ids and topics, so transcripts stay deterministic.
 */
export class Differential {
  private shoal: Broker | undefined;
  private mosquitto: Broker | undefined;

  async start(shoalArgs: string[] = [], mosquittoConf: string[] = []): Promise<void> {
    this.shoal = await startBrokerOf('shoal', { shards: 1, extraArgs: shoalArgs });
    this.mosquitto = await startBrokerOf('mosquitto', { extraArgs: mosquittoConf });
  }

  async stop(): Promise<void> {
    await Promise.all([this.shoal?.stop().catch(() => null), this.mosquitto?.stop().catch(() => null)]);
  }

  /** Runs `scenario` against both brokers, one after the other. */
  async run(scenario: Scenario): Promise<Comparison> {
    const shoal = await transcriptOn(this.shoal!, scenario);
    const mosquitto = await transcriptOn(this.mosquitto!, scenario);
    return { shoal, mosquitto, same: JSON.stringify(shoal) === JSON.stringify(mosquitto) };
  }
}

/** Runs `scenario` on a running broker; returns its transcript. */
export async function transcriptOn(broker: Broker, scenario: Scenario): Promise<string[]> {
  const rec = new Recorder(broker);
  try {
    await scenario(rec);
    return rec.transcript;
  } finally {
    rec.close();
  }
}

export interface Comparison { shoal: string[]; mosquitto: string[]; same: boolean }

/** Both transcripts side by side, for assertion messages. */
export function sideBySide(c: Comparison): string {
  return `shoal:\n  ${c.shoal.join('\n  ')}\nmosquitto:\n  ${c.mosquitto.join('\n  ')}`;
}
