// The shard's side of what only the embedding API (src/main/broker.ts) asks, answered through the
// one control channel (src/worker/control/index.ts holds the table of every question): a
// publish's message with MQTT 5 properties, the connected clients as hooks see them, and the
// events, which are a hook of the shard's stack while main has listeners for them (so with no
// listener they cost nothing).
import type { MessagePort } from 'node:worker_threads';
import mqttPacket from 'mqtt-packet';
import type { ConnectedClient } from '../../shared/admin-query.ts';
import type { EmbedEvent } from '../../shared/control.ts';
import { ErrorCode, ShoalError } from '../../shared/errors.ts';
import { ConnState } from '../net/conn-state.ts';
import type { Connection } from '../net/connection.ts';
import { decodePublish, InboundPublish } from '../protocol/publish-codec.ts';
import { Message } from '../session/message.ts';
import type { Hook, HookClient } from '../hooks/hook.ts';
import { clientOf, plainClient, type HookRegistry } from '../hooks/registry.ts';

const decoded = new InboundPublish();

/**
 * The Message a publish of the broker's own makes. Properties go through mqtt-packet and the
 * PUBLISH codec, so they become the wire bytes a Message keeps; a bad one is PUBLISH_INVALID.
 */
export function ownMessage(topic: string, payload: string | Uint8Array, qos: 0 | 1 | 2, retain: boolean, properties: Record<string, unknown> | null | undefined): Message {
  const buf = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
  if (properties === null || properties === undefined) return new Message(topic, buf, qos, retain, null, 0, '');
  try {
    const packet = { cmd: 'publish', topic, payload: buf, qos, retain, messageId: qos > 0 ? 1 : undefined, dup: false, properties } as mqttPacket.IPublishPacket;
    const wire = mqttPacket.generate(packet, { protocolVersion: 5 });
    decodePublish(wire, 0, wire.length, 5, decoded);
  } catch (err) {
    throw new ShoalError(ErrorCode.PUBLISH_INVALID, `cannot publish: ${(err as Error).message}`);
  }
  const expiry = decoded.messageExpiry >= 0 ? Date.now() + decoded.messageExpiry * 1000 : 0;
  return new Message(topic, Buffer.from(decoded.payload), qos, retain, decoded.props === null ? null : Buffer.from(decoded.props), expiry, '');
}

/** The connected clients of this shard (all, or those with client id `id`). */
export function connectedClients(connections: ReadonlySet<Connection>, shard: number, hooks: HookRegistry, id: string | null): ConnectedClient[] {
  const out: ConnectedClient[] = [];
  for (const c of connections) {
    if (c.state === ConnState.CONNECTED && (id === null || c.clientId === id)) out.push(plainClient(clientOf(c, shard, hooks.usernames)));
  }
  return out;
}

/** The events hook: in the shard's stack only while main listens. */
export class EmbedEvents {
  private readonly hooks: HookRegistry;
  private readonly port: MessagePort;
  private hook: Hook | null = null;

  constructor(hooks: HookRegistry, port: MessagePort) {
    this.hooks = hooks;
    this.port = port;
  }

  set(on: boolean): void {
    if (on === (this.hook !== null)) return;
    if (!on) { this.hooks.remove(this.hook!); this.hook = null; return; }
    const post = (name: EmbedEvent['name'], data: Record<string, unknown>): void => this.port.postMessage({ type: 'embed-event', name, data } satisfies EmbedEvent);
    const hook: Hook = {
      onSessionEstablished: (client: HookClient, sessionPresent: boolean) => post('client:connect', { ...plainClient(client), sessionPresent }),
      onDisconnect: (client: HookClient, expire: boolean) => post('client:disconnect', { ...plainClient(client), sessionKept: expire }),
      onSubscribed: (client, subscriptions, reasonCodes) => post('subscribe', { clientId: client.clientId, shard: client.shard, subscriptions, reasonCodes }),
      onUnsubscribed: (client, filters) => post('unsubscribe', { clientId: client.clientId, shard: client.shard, filters }),
    };
    this.hook = hook;
    this.hooks.add(hook);
  }
}
