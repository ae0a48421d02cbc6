// The protocol room: what packets mean. handlers/ has one file per packet family behind this
// dispatcher; beside it the hand-written codecs of the hot packets (publish-codec.ts, acks.ts),
// mqtt-packet for the rest (parse.ts), the PUBLISH as bytes (publish-view.ts, also the PUBLISH
// frame between shards) and outbound topic aliases.
//
// Thin dispatcher: picks the handler by packet type and owns the mapping from errors to the
// specification's answer (reason code + close). Handlers throw ProtocolError; nothing a client
// sends can throw past this function.
import { ProtocolError } from '../../../shared/errors.ts';
import { PacketType } from '../../../shared/protocol/constants.ts';
import { Reason } from '../../../shared/protocol/reason-codes.ts';
import { ConnState } from '../../net/conn-state.ts';
import type { Connection } from '../../net/connection.ts';
import { handleConnect } from './connect.ts';
import { handlePublish, handlePuback, handlePubrec, handlePubrel, handlePubcomp } from './publish.ts';
import { checkFilterBytes, handleSubscribe, handleUnsubscribe } from './subscribe.ts';
import { handleDisconnect, handlePingreq } from './session-control.ts';
import { handleAuth, refuseDuringAuth } from './auth.ts';
import { ACK_FIRST_BYTE, isPingreq, shortAckId } from '../../../shared/protocol/ack-fast.ts';
import type mqttPacket from 'mqtt-packet';

// One reused packet object for the short ack forms: handlers read it and keep nothing of it.
const shortAck = { cmd: 'puback', messageId: 0, reasonCode: 0 } as mqttPacket.IPubackPacket;

/** The ack in the packet: the short form without mqtt-packet, any other form through it. */
function ackPacket(conn: Connection, buf: Buffer, off: number, len: number, first: number): mqttPacket.Packet {
  const id = shortAckId(buf, off, len, first);
  if (id < 0) return conn.parse(buf, off, len);
  shortAck.messageId = id;
  return shortAck;
}

export function dispatch(conn: Connection, buf: Buffer, off: number, len: number): void {
  const type = buf[off]! >> 4;
  try {
    if (conn.state === ConnState.NEW) {
      // The first packet must be CONNECT [MQTT-3.1.0-1].
      if (type !== PacketType.CONNECT) { conn.close(); return; }
      handleConnect(conn, buf, off, len);
      return;
    }
    if (conn.state === ConnState.AUTHENTICATING) {
      // Until its CONNACK, a client that named an Authentication Method sends only AUTH or DISCONNECT [MQTT-3.1.2-30].
      if (type === PacketType.AUTH) handleAuth(conn, buf, off, len);
      else if (type === PacketType.DISCONNECT) conn.close();
      else throw new ProtocolError(Reason.PROTOCOL_ERROR, `packet type ${type} during the authentication exchange [MQTT-3.1.2-30]`);
      return;
    }
    switch (type) {
      case PacketType.PUBLISH: handlePublish(conn, buf, off, len); return;
      case PacketType.PUBACK: handlePuback(conn, ackPacket(conn, buf, off, len, ACK_FIRST_BYTE.PUBACK)); return;
      case PacketType.PUBREC: handlePubrec(conn, ackPacket(conn, buf, off, len, ACK_FIRST_BYTE.PUBREC)); return;
      case PacketType.PUBREL: handlePubrel(conn, ackPacket(conn, buf, off, len, ACK_FIRST_BYTE.PUBREL)); return;
      case PacketType.PUBCOMP: handlePubcomp(conn, ackPacket(conn, buf, off, len, ACK_FIRST_BYTE.PUBCOMP)); return;
      case PacketType.SUBSCRIBE: {
        const p = conn.parse(buf, off, len);
        checkFilterBytes(buf, off, len, conn.version, true); // raw UTF-8 of the filters [MQTT-3.8.3-1]
        handleSubscribe(conn, p);
        return;
      }
      case PacketType.UNSUBSCRIBE: {
        const p = conn.parse(buf, off, len);
        checkFilterBytes(buf, off, len, conn.version, false);
        handleUnsubscribe(conn, p);
        return;
      }
      case PacketType.PINGREQ: if (!isPingreq(buf, off, len)) conn.parse(buf, off, len); handlePingreq(conn); return;
      case PacketType.DISCONNECT: handleDisconnect(conn, conn.parse(buf, off, len)); return;
      case PacketType.AUTH: handleAuth(conn, buf, off, len); return;
      case PacketType.CONNECT:
        throw new ProtocolError(Reason.PROTOCOL_ERROR, 'second CONNECT [MQTT-3.1.0-2]');
      default:
        // CONNACK, SUBACK, UNSUBACK, PINGRESP or type 0/15 from a client.
        throw new ProtocolError(Reason.PROTOCOL_ERROR, `packet type ${type} is not sent by clients`);
    }
  } catch (err) {
    if (err instanceof ProtocolError && conn.state === ConnState.AUTHENTICATING) {
      refuseDuringAuth(conn, err.reason); // no CONNACK yet: the refusal is a CONNACK with the reason
    } else if (err instanceof ProtocolError) {
      conn.protocolError(err.reason, err.message);
    } else {
      conn.shard.log.error({ err, client: conn.clientId, type }, 'handler failed');
      conn.protocolError(Reason.UNSPECIFIED_ERROR, 'internal error');
    }
  }
}
