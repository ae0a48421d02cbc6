import net from 'node:net';
import { ErrorCode, ShoalError } from '../shared/errors.ts';
import { startListening } from '../shared/listen.ts';
import type { ListenerConfig } from '../shared/config.ts';
import type { ShardListener } from '../shared/control.ts';
import { readTlsMaterial, type Transport } from '../shared/tls.ts';
import type { ShardSupervisor } from './shards.ts';

/** What main/index.ts needs of a listener, whoever accepts. */
export interface Listening {
  address(): net.AddressInfo | string | null;
  close(): unknown;
}

function listenFailed(transport: Transport, host: string, port: number, code: string, cause?: unknown): ShoalError {
  return new ShoalError(ErrorCode.LISTEN_FAILED, `cannot listen on ${host}:${port} (${transport}): ${code}`, { cause });
}

async function listenOn(server: net.Server, transport: Transport, host: string, port: number, reusePort: boolean): Promise<net.Server> {
  try {
    await startListening(server, { host, port, reusePort });
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw listenFailed(transport, host, port, e.code ?? e.message, e);
  }
  return server;
}

/**
 * A listener on main for one transport. `pauseOnConnect` keeps every byte unread in the kernel
 * so the socket can be moved to a shard, which does all reading, and for TLS and WebSocket the
 * handshake too (docs/transports.md): main never touches the data path.
 */
function transferring(listener: number, shards: ShardSupervisor): net.Server {
  return net.createServer({ pauseOnConnect: true, noDelay: true }, (socket) => shards.transfer(socket, listener));
}

/** Listener number `index` of listenersOf(config), accepted by main. */
export function listen(l: ListenerConfig, index: number, shards: ShardSupervisor): Promise<net.Server> {
  return listenOn(transferring(index, shards), l.transport, l.host, l.port, false);
}

/**
 * --accept shards (plain TCP): every shard listens on the port with SO_REUSEPORT and accepts
 * itself (src/worker/net/acceptor.ts). SO_REUSEPORT would also let a second broker of the same
 * user join the port silently, so main first checks the port is free with an ordinary listen.
 * For port 0 main takes a free port inside the SO_REUSEPORT group so the shards can join it,
 * and leaves once they have; whatever reached main's listener meanwhile is transferred.
 */
export async function listenInShards(host: string, port: number, index: number, shards: ShardSupervisor): Promise<Listening> {
  let reserve: net.Server | null = null;
  let actual = port;
  if (port === 0) {
    reserve = await listenOn(transferring(index, shards), 'tcp', host, 0, true);
    actual = (reserve.address() as net.AddressInfo).port;
  } else {
    const probe = await listenOn(net.createServer(), 'tcp', host, port, false);
    await new Promise((r) => probe.close(r));
  }
  try {
    await shards.listenAll(host, actual, (code) => listenFailed('tcp', host, actual, code));
  } finally {
    reserve?.close();
  }
  const address: net.AddressInfo = { address: host, family: net.isIPv6(host) ? 'IPv6' : 'IPv4', port: actual };
  return { address: () => address, close: () => shards.unlistenAll() };
}

/**
 * What the shards need of each listener, TLS files read and checked here (a bad one is one
 * line and exit 1, not a crash in a shard). The last `fromFile` came from the config file's
 * listeners: list, and errors name their files by place (listeners[0].cert), the others by flag.
 */
export function shardListenersOf(listeners: readonly ListenerConfig[], fromFile: number): ShardListener[] {
  const first = listeners.length - fromFile;
  return listeners.map((l, i) => {
    const at = `listeners[${i - first}]`;
    const names = i < first ? undefined : { cert: `${at}.cert`, key: `${at}.key`, ca: `${at}.ca` };
    const tls = l.transport === 'tls' || l.transport === 'wss' ? readTlsMaterial(l, names) : null;
    return { transport: l.transport, tls, path: l.path };
  });
}
