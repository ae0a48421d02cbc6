// A raw MQTT-over-WebSocket client for tests: send exact bytes in the WebSocket messages you
// choose (to split packets across messages or pack several into one), read back the packets
// the broker sends (decoded with mqtt-packet) and whether every message was binary.
import mqttPacket from 'mqtt-packet';
import type { Packet } from 'mqtt-packet';
import { WebSocket, type ClientOptions } from 'ws';

export interface RawWs {
  ws: WebSocket;
  packets: Packet[];
  /** Messages the broker sent as text frames (MQTT over WebSocket allows none). */
  textMessages: number;
  /** Resolves with the close code when the connection closes. */
  closed: Promise<number>;
  /** Waits for the next packet of this type (or fails after `ms`). */
  expect(cmd: string, ms?: number): Promise<Packet>;
}

/** Opens a WebSocket to `url` offering `protocols`; resolves once open (rejects on refusal). */
export function openRawWs(url: string, protocols: string[], version: 4 | 5 = 4, opts: ClientOptions = {}): Promise<RawWs> {
  const ws = new WebSocket(url, protocols, opts);
  const parser = mqttPacket.parser({ protocolVersion: version });
  const r: RawWs = {
    ws,
    packets: [],
    textMessages: 0,
    closed: new Promise((res) => ws.on('close', (code) => res(code))),
    async expect(cmd, ms = 5000) {
      const deadline = Date.now() + ms;
      for (;;) {
        const i = r.packets.findIndex((p) => p.cmd === cmd);
        if (i >= 0) return r.packets.splice(i, 1)[0]!;
        if (Date.now() > deadline) throw new Error(`no ${cmd} within ${ms} ms (got ${r.packets.map((p) => p.cmd).join(', ') || 'nothing'})`);
        await new Promise((res) => setTimeout(res, 10));
      }
    },
  };
  parser.on('packet', (p: Packet) => r.packets.push(p));
  ws.on('message', (data: Buffer, isBinary: boolean) => {
    if (!isBinary) r.textMessages++;
    parser.parse(data);
  });
  return new Promise((res, rej) => {
    ws.once('open', () => { ws.off('error', rej); ws.on('error', () => { /* seen through closed */ }); res(r); });
    ws.once('error', rej);
  });
}

/** The bytes of a packet (mqtt-packet's encoder). */
export function encode(packet: Packet | Record<string, unknown>, version: 4 | 5 = 4): Buffer {
  return mqttPacket.generate(packet as Packet, { protocolVersion: version });
}
