// The commit gate as the data path sees it (the gate itself: durability.ts). Every packet whose
// meaning depends on store writes goes out through sendGated, so the decision "now, or after the
// commit" is made in this one place.
import mqttPacket from 'mqtt-packet';
import type { Connection } from '../net/connection.ts';
import { withPacketId } from '../protocol/publish-codec.ts';

/** What senders ask of the commit gate. */
export interface CommitGate {
  /** Puts `buf` into the gate: out on `conn` once this turn's writes (and the peers' for its forwards) have committed. */
  enqueue(conn: Connection, buf: Buffer): void;
  /** The same for a packet that depends only on this shard's own writes: it waits for no peer and no other connection's packets. */
  enqueueLocal(conn: Connection, buf: Buffer): void;
}

/**
 * Sends `buf` at once, unless it must wait for the commit (`wait`) or earlier packets of the
 * connection are still in the gate (then it queues behind them, so nothing is reordered).
 */
export function sendGated(gate: CommitGate, conn: Connection, buf: Buffer, wait: boolean): void {
  if (mustWait(conn, wait)) gate.enqueue(conn, buf);
  else conn.send(buf);
}

/** Whether a packet for `conn` goes through the gate instead of straight into its output. */
export function mustWait(conn: Connection, wait: boolean): boolean { return wait || conn.gated > 0; }

/**
 * sendGated for a fan-out's shared QoS 1/2 template with this delivery's packet id: copied once,
 * into the connection's output; only a packet that waits gets a buffer of its own.
 */
export function sendWithIdGated(gate: CommitGate, conn: Connection, template: Buffer, idOffset: number, packetId: number, wait: boolean): void {
  if (mustWait(conn, wait)) gate.enqueue(conn, withPacketId(template, idOffset, packetId, false));
  else conn.sendWithId(template, idOffset, packetId);
}

/**
 * sendGated for a SUBACK or UNSUBACK: with `wait` (a persistent session), after this shard's
 * commit of the session's subscriptions only. Through the gate's groups it would wait for every
 * packet gated before it on this shard, other clients' acks included, and those can wait long
 * for a peer's commit-barrier answer (a ring held by flow control: test/regress/peer-ring-held-stalls-suback).
 */
export function sendSubackGated(gate: CommitGate, conn: Connection, buf: Buffer, wait: boolean): void {
  if (wait) gate.enqueueLocal(conn, buf);
  else sendGated(gate, conn, buf, false);
}

/** sendSubackGated for a packet that mqtt-packet encodes. */
export function sendPacketGated(gate: CommitGate, conn: Connection, packet: mqttPacket.Packet, wait: boolean): void {
  sendSubackGated(gate, conn, mqttPacket.generate(packet, { protocolVersion: conn.version as 3 | 4 | 5 }), wait);
}
