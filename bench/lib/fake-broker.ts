// A minimal stand-in broker: CONNACK, SUBACK, PINGRESP, acks for QoS 1/2 publishes, and
// forwarding of publishes (at QoS 0, bytes reused when possible) to exact or "prefix/#"
// subscribers. It exists to measure the tools' own ceiling and, with `forwardEvery: 2`, to
// be the lossy broker the tests need. Not an MQTT broker.
import net from 'node:net';
import { Framer } from '../../src/shared/protocol/framer.ts';
import { readVarint, varintSize, writeVarint } from './packets.ts';

export interface FakeBrokerOptions {
  port?: number;
  host?: string;
  /** Forward only every Nth PUBLISH (1 = all). */
  forwardEvery?: number;
}

export interface FakeBroker {
  port: number;
  published: number;
  forwarded: number;
  close(): Promise<void>;
}

interface Conn {
  socket: net.Socket;
  level: number;
  /** The chunk being framed right now. */
  chunk: Buffer | null;
}

export async function startFakeBroker(o: FakeBrokerOptions = {}): Promise<FakeBroker> {
  const every = o.forwardEvery ?? 1;
  const exact = new Map<string, Set<Conn>>();
  const prefixes = new Map<string, Set<Conn>>();
  const sockets = new Set<net.Socket>();
  // Output gathered per destination while one input chunk is framed, then written as one
  // buffer: millions of tiny writes would make the sink, not the tool, the bottleneck.
  const outbox = new Map<Conn, Buffer[]>();
  const state = { published: 0, forwarded: 0 };

  const subscribe = (conn: Conn, filter: string): void => {
    const wild = filter === '#' ? '' : filter.endsWith('/#') ? filter.slice(0, -1) : null;
    const map = wild === null ? exact : prefixes;
    const key = wild ?? filter;
    let set = map.get(key);
    if (set === undefined) map.set(key, (set = new Set()));
    set.add(conn);
  };

  const send = (to: Conn, bytes: Buffer): void => {
    let list = outbox.get(to);
    if (list === undefined) outbox.set(to, (list = []));
    list.push(bytes);
  };

  /** Writes what one input chunk produced; a destination that is full pauses the source. */
  const flush = (from: Conn): void => {
    for (const [to, list] of outbox) {
      if (to.socket.destroyed) continue;
      const ok = to.socket.write(list.length === 1 ? list[0] : Buffer.concat(list));
      if (!ok && to !== from && !from.socket.isPaused()) {
        from.socket.pause();
        to.socket.once('drain', () => from.socket.resume());
      }
    }
    outbox.clear();
  };

  const forward = (buf: Buffer, off: number, len: number, from: Conn): void => {
    state.published++;
    if (state.published % every !== 0) return;
    const [remaining, lenBytes] = readVarint(buf, off + 1);
    const body = off + 1 + lenBytes;
    const topicLen = buf.readUInt16BE(body);
    const topic = buf.toString('utf8', body + 2, body + 2 + topicLen);
    const qos = (buf[off] >> 1) & 3;
    // The framer promises only that views are valid during the call; the outbox is written
    // after the chunk, so a packet it assembled across chunks is copied to be safe.
    let packet = buf === from.chunk ? buf.subarray(off, off + len) : Buffer.from(buf.subarray(off, off + len));
    if (qos > 0) {
      // Forward at QoS 0: drop the packet id, keep topic, properties and payload.
      const rest = buf.subarray(body + 2 + topicLen + 2, body + remaining);
      const newRemaining = 2 + topicLen + rest.length;
      const out = Buffer.allocUnsafe(1 + varintSize(newRemaining) + newRemaining);
      out[0] = 0x30;
      let p = writeVarint(out, 1, newRemaining);
      buf.copy(out, p, body, body + 2 + topicLen);
      p += 2 + topicLen;
      rest.copy(out, p);
      packet = out;
    }
    const targets = exact.get(topic);
    if (targets !== undefined) for (const t of targets) { send(t, packet); state.forwarded++; }
    for (const [prefix, set] of prefixes) {
      if (topic.startsWith(prefix)) for (const t of set) { send(t, packet); state.forwarded++; }
    }
  };

  const onPacket = (conn: Conn, buf: Buffer, off: number, len: number): void => {
    const type = buf[off] >> 4;
    const [, lenBytes] = readVarint(buf, off + 1);
    const body = off + 1 + lenBytes;
    switch (type) {
      case 1: { // CONNECT: protocol name, then level
        const nameLen = buf.readUInt16BE(body);
        conn.level = buf[body + 2 + nameLen];
        send(conn, Buffer.from(conn.level === 5 ? [0x20, 3, 0, 0, 0] : [0x20, 2, 0, 0]));
        return;
      }
      case 3: {
        const qos = (buf[off] >> 1) & 3;
        if (qos > 0) {
          const topicLen = buf.readUInt16BE(body);
          const id = buf.readUInt16BE(body + 2 + topicLen);
          send(conn, Buffer.from([qos === 1 ? 0x40 : 0x50, 2, id >> 8, id & 0xff]));
        }
        forward(buf, off, len, conn);
        return;
      }
      case 6: // PUBREL → PUBCOMP
        send(conn, Buffer.from([0x70, 2, buf[body], buf[body + 1]]));
        return;
      case 8: { // SUBSCRIBE
        const id = buf.readUInt16BE(body);
        let p = body + 2;
        if (conn.level === 5) {
          const [propLen, used] = readVarint(buf, p);
          p += used + propLen;
        }
        const codes: number[] = [];
        while (p < off + len) {
          const n = buf.readUInt16BE(p);
          subscribe(conn, buf.toString('utf8', p + 2, p + 2 + n));
          codes.push(Math.min(buf[p + 2 + n] & 3, 2));
          p += 3 + n;
        }
        const props = conn.level === 5 ? [0] : [];
        send(conn, Buffer.from([0x90, 2 + props.length + codes.length, id >> 8, id & 0xff, ...props, ...codes]));
        return;
      }
      case 12: // PINGREQ
        send(conn, Buffer.from([0xd0, 0]));
        return;
      case 14: // DISCONNECT
        conn.socket.end();
        return;
    }
  };

  const server = net.createServer((socket) => {
    socket.setNoDelay(true);
    sockets.add(socket);
    const conn: Conn = { socket, level: 4, chunk: null };
    const framer = new Framer(268_435_455, (b, off, len) => onPacket(conn, b, off, len), () => socket.destroy());
    socket.on('data', (chunk: Buffer) => {
      conn.chunk = chunk;
      framer.push(chunk);
      conn.chunk = null;
      flush(conn);
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      sockets.delete(socket);
      for (const set of [...exact.values(), ...prefixes.values()]) set.delete(conn);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port ?? 0, o.host ?? '127.0.0.1', () => resolve());
  });
  const addr = server.address();
  const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
  return {
    port,
    get published() { return state.published; },
    get forwarded() { return state.forwarded; },
    close: () => new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    }),
  };
}
