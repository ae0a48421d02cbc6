// The embedding API's requests to the shards (publish, connected clients, disconnect, events)
// over the same control channel, id space and shard-exit handling as the admin port's questions
// (channel.ts); the questions themselves are rows of the one table in src/shared/admin-query.ts.
import type { AdminQuery, ConnectedClient } from '../../shared/admin-query.ts';
import { ErrorCode, ShoalError } from '../../shared/errors.ts';
import { gather, type ShardAsker } from '../admin/shard-query.ts';

/** The operations main asks of the shards for an embedding program: narrow, so another carrier can stand in. */
export interface ShardRequests {
  publish(topic: string, payload: Buffer, qos: 0 | 1 | 2, retain: boolean, properties: Record<string, unknown> | null): Promise<void>;
  clients(clientId: string | null): Promise<ConnectedClient[]>;
  disconnect(clientId: string, reason: number): Promise<boolean>;
  events(on: boolean): void;
}

// A question to every shard gets this long; a shard that has not answered by then (busy, or
// wedged) is left out of the answer rather than holding the program's await for ever.
const GATHER_MS = 10_000;

export class ChannelRequests implements ShardRequests {
  private readonly channel: ShardAsker<AdminQuery, unknown>;
  private next = 0;
  constructor(channel: ShardAsker<AdminQuery, unknown>) { this.channel = channel; }

  private up(): number[] {
    const up: number[] = [];
    for (let i = 0; i < this.channel.count; i++) if (this.channel.isUp(i)) up.push(i);
    if (up.length === 0) throw new ShoalError(ErrorCode.BROKER_NOT_RUNNING, 'no shard is running');
    return up;
  }

  async publish(topic: string, payload: Buffer, qos: 0 | 1 | 2, retain: boolean, properties: Record<string, unknown> | null): Promise<void> {
    // Any shard routes it to every other like a client's publish; spread over the live ones.
    // No deadline: it resolves when committed, as a client's PUBACK is sent (a shard that exits fails it).
    const up = this.up();
    const shard = up[this.next++ % up.length]!;
    try {
      await this.channel.ask(shard, { op: 'publish', topic, payload, qos, retain, properties }, new AbortController().signal);
    } catch (err) {
      if (err instanceof ShoalError) throw err;
      throw new ShoalError(ErrorCode.PUBLISH_FAILED, `shard ${shard}: ${(err as Error).message} before it confirmed the publish`);
    }
  }

  async clients(clientId: string | null): Promise<ConnectedClient[]> {
    // A shard that died meanwhile has no clients left to report.
    const g = await gather(this.channel, { op: 'connected', id: clientId }, GATHER_MS, this.up());
    return g.answers.flatMap((a) => a.value as ConnectedClient[]).sort((x, y) => (x.clientId < y.clientId ? -1 : x.clientId > y.clientId ? 1 : 0));
  }

  async disconnect(clientId: string, reason: number): Promise<boolean> {
    const g = await gather(this.channel, { op: 'kick', id: clientId, reason }, GATHER_MS, this.up());
    return g.answers.some((a) => a.value === true);
  }

  /** The events hook on or off in every live shard (a restarted one is told again: broker.ts). */
  events(on: boolean): void {
    for (let i = 0; i < this.channel.count; i++) if (this.channel.isUp(i)) this.eventsOn(i, on);
  }

  eventsOn(shard: number, on: boolean): void {
    this.channel.ask(shard, { op: 'events', on }, new AbortController().signal).catch(() => undefined); // an exited shard starts without it
  }
}
