// Every listener of a configuration: one per plain port key (port, tls-port, ws-port,
// wss-port; TCP always), then the config file's `listeners:` entries, which take what they
// leave out (host, TLS files, client-auth, WebSocket path) from the top-level keys.
import type { BrokerConfig, ListenerConfig } from '../config.ts';
import type { Transport } from '../tls.ts';
import type { ListenerEntry } from './file.ts';

export const isTls = (t: Transport): boolean => t === 'tls' || t === 'wss';
export const isWs = (t: Transport): boolean => t === 'ws' || t === 'wss';

/** The file's entry completed from the top level (the whole config is merged by now). */
export function completeListener(e: ListenerEntry, cfg: BrokerConfig): ListenerConfig {
  const tls = isTls(e.transport);
  return {
    transport: e.transport,
    host: e.host ?? cfg.host,
    port: e.port,
    cert: e.cert ?? (tls ? cfg.tlsCert : ''),
    key: e.key ?? (tls ? cfg.tlsKey : ''),
    ca: e.ca ?? (tls ? cfg.tlsCa : ''),
    clientAuth: e.clientAuth ?? (tls && cfg.tlsClientAuth),
    path: e.path ?? (isWs(e.transport) ? cfg.wsPath : ''),
  };
}

/** Plain TCP first: the start line names it first (tools parse `listening on mqtt://host:port`). */
export function listenersOf(cfg: BrokerConfig): ListenerConfig[] {
  const plain: [Transport, number | null][] = [['tcp', cfg.port], ['tls', cfg.tlsPort], ['ws', cfg.wsPort], ['wss', cfg.wssPort]];
  const out: ListenerConfig[] = [];
  for (const [transport, port] of plain) {
    if (port !== null) out.push(completeListener({ transport, port }, cfg));
  }
  return out.concat(cfg.listeners);
}
