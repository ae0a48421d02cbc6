// Packets the broker sends must fit the client's Maximum Packet Size [MQTT-3.1.2-24]; optional
// properties (Reason String, User Properties, ...) are left out first when they would not
// [MQTT-3.2.2-19] [MQTT-3.14.2-3] [MQTT-3.15.2-2].
import mqttPacket from 'mqtt-packet';
import type { Connection } from '../../net/connection.ts';

/** Sends `packet`, dropping the properties named in `droppable` (in order) while it is too large. */
export function sendFitting(conn: Connection, packet: mqttPacket.Packet, droppable: readonly string[]): void {
  const opts = { protocolVersion: conn.version as 3 | 4 | 5 };
  let buf = mqttPacket.generate(packet, opts);
  const max = conn.clientMaxPacket;
  const props = (packet as { properties?: Record<string, unknown> }).properties;
  for (let i = 0; max > 0 && buf.length > max && props !== undefined && i < droppable.length; i++) {
    if (props[droppable[i]!] === undefined) continue;
    delete props[droppable[i]!];
    buf = mqttPacket.generate(packet, opts);
  }
  if (max > 0 && buf.length > max) return; // still too large: not sent [MQTT-3.1.2-25]
  conn.send(buf);
}
