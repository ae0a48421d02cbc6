// The shard's side of the embedding API (src/main/broker.ts): a publish from the program that
// embeds the broker (routed like a client's, acknowledged once committed), the connected clients,
// a disconnect by client id, and the events, which are a hook of the shard's stack while main
// has listeners for them (so with no listener they cost nothing).
import type { MessagePort } from 'node:worker_threads';
import mqttPacket from 'mqtt-packet';
import type { ClientInfo, ControlFromShard, EmbedToShard } from '../../shared/control.ts';
import { ErrorCode } from '../../shared/errors.ts';
import { ConnState } from '../net/conn-state.ts';
import type { Connection } from '../net/connection.ts';
import { decodePublish, InboundPublish } from '../protocol/publish-codec.ts';
import { AckType } from '../protocol/acks.ts';
import type { Routing } from '../routing/routing.ts';
import type { Durability } from '../durable/durability.ts';
import { Message } from '../session/message.ts';
import type { Hook, HookClient } from '../hooks/hook.ts';
import { clientOf, plainClient, type HookRegistry } from '../hooks/registry.ts';
import type { ShardContext } from '../context.ts';

export interface EmbedParts extends ShardContext {
  readonly routing: Pick<Routing, 'publish'>;
  readonly durability: Pick<Durability, 'mark' | 'changedSince' | 'enqueue'>;
  readonly connections: ReadonlySet<Connection>;
  readonly hooks: HookRegistry;
}

const decoded = new InboundPublish();

export class EmbedControl {
  private readonly sh: EmbedParts;
  private readonly port: MessagePort;
  private events: Hook | null = null;

  constructor(sh: EmbedParts, port: MessagePort) {
    this.sh = sh;
    this.port = port;
  }

  private post(m: ControlFromShard): void { this.port.postMessage(m); }

  handle(m: EmbedToShard): void {
    switch (m.type) {
      case 'embed-publish': this.publish(m); break;
      case 'embed-clients': {
        const clients: ClientInfo[] = [];
        for (const c of this.sh.connections) {
          if (c.state === ConnState.CONNECTED && (m.clientId === null || c.clientId === m.clientId)) clients.push(plainClient(clientOf(c, this.sh.id, this.sh.hooks.usernames)));
        }
        this.post({ type: 'embed-answer', id: m.id, error: null, clients });
        break;
      }
      case 'embed-disconnect': {
        let found = false;
        for (const c of this.sh.connections) {
          if (c.state === ConnState.CONNECTED && c.clientId === m.clientId) { c.disconnect(m.reason); found = true; }
        }
        this.post({ type: 'embed-answer', id: m.id, error: null, found });
        break;
      }
      case 'embed-events': this.setEvents(m.on); break;
    }
  }

  /** Through mqtt-packet and the PUBLISH codec, so v5 properties become the wire bytes a Message keeps. */
  private publish(m: Extract<EmbedToShard, { type: 'embed-publish' }>): void {
    const answer = (error: { code: string; message: string } | null): void => this.post({ type: 'embed-answer', id: m.id, error });
    let msg: Message;
    try {
      const packet = { cmd: 'publish', topic: m.topic, payload: Buffer.from(m.payload), qos: m.qos, retain: m.retain, messageId: m.qos > 0 ? 1 : undefined, dup: false, properties: m.properties ?? undefined } as mqttPacket.IPublishPacket;
      const buf = mqttPacket.generate(packet, { protocolVersion: 5 });
      decodePublish(buf, 0, buf.length, 5, decoded);
      const now = Date.now();
      msg = new Message(m.topic, Buffer.from(decoded.payload), m.qos, m.retain, decoded.props === null ? null : Buffer.from(decoded.props), decoded.messageExpiry >= 0 ? now + decoded.messageExpiry * 1000 : 0, '');
    } catch (err) {
      answer({ code: ErrorCode.PUBLISH_INVALID, message: `cannot publish: ${(err as Error).message}` });
      return;
    }
    const d = this.sh.durability;
    const mark = d.mark();
    this.sh.routing.publish(msg, Date.now());
    if (m.qos === 0 || !d.changedSince(mark)) { answer(null); return; }
    // Resolved as a client's PUBACK would be sent: once the commit gate lets it out.
    d.enqueue(new GateSink(answer) as unknown as Connection, GATE_TOKEN);
  }

  private setEvents(on: boolean): void {
    if (on === (this.events !== null)) return;
    if (!on) { this.sh.hooks.remove(this.events!); this.events = null; return; }
    const post = (name: 'client:connect' | 'client:disconnect' | 'subscribe' | 'unsubscribe', data: Record<string, unknown>): void => this.post({ type: 'embed-event', name, data });
    const hook: Hook = {
      onSessionEstablished: (client: HookClient, sessionPresent: boolean) => post('client:connect', { ...plainClient(client), sessionPresent }),
      onDisconnect: (client: HookClient, expire: boolean) => post('client:disconnect', { ...plainClient(client), sessionKept: expire }),
      onSubscribed: (client, subscriptions, reasonCodes) => post('subscribe', { clientId: client.clientId, shard: client.shard, subscriptions, reasonCodes }),
      onUnsubscribed: (client, filters) => post('unsubscribe', { clientId: client.clientId, shard: client.shard, filters }),
    };
    this.events = hook;
    this.sh.hooks.add(hook);
  }
}

/** A PUBACK-typed token: the gate withholds it (and "disconnects" the sink) when a peer lost the message. */
const GATE_TOKEN = Buffer.from([AckType.PUBACK, 2, 0, 1]);

/** What the commit gate uses of a connection, for a publish that has none. */
class GateSink {
  gated = 0;
  state: number = ConnState.CONNECTED;
  session = null;
  private readonly done: (error: { code: string; message: string } | null) => void;
  constructor(done: (error: { code: string; message: string } | null) => void) { this.done = done; }
  send(): void { this.state = ConnState.CLOSED; this.done(null); }
  disconnect(_reason: number, why?: string): void {
    if (this.state === ConnState.CLOSED) return;
    this.state = ConnState.CLOSED;
    this.done({ code: ErrorCode.PUBLISH_FAILED, message: why ?? 'not committed' });
  }
}
