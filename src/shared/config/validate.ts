// Checks that need more than one setting. Single values were checked where they were read.
import type { BrokerConfig } from '../config.ts';
import { ErrorCode, ShoalError } from '../errors.ts';
import { isTls, isWs, listenersOf } from './listeners.ts';
import { ConfigError } from './values.ts';

const invalid = (message: string): ShoalError => new ShoalError(ErrorCode.CONFIG_INVALID, message);

/** `listenerSources[i]` is the file:line of cfg.listeners[i]. Throws CONFIG_INVALID. */
export function validate(cfg: BrokerConfig, listenerSources: readonly string[] = []): void {
  if ((cfg.ringCapacity & (cfg.ringCapacity - 1)) !== 0) throw invalid(`--ring-capacity must be a power of two, got ${cfg.ringCapacity}`);
  const tlsPlain = cfg.tlsPort !== null || cfg.wssPort !== null;
  if (tlsPlain && (cfg.tlsCert === '' || cfg.tlsKey === '')) {
    throw invalid(`${cfg.tlsPort !== null ? '--tls-port' : '--wss-port'} needs --tls-cert and --tls-key`);
  }
  const tlsAnywhere = tlsPlain || cfg.listeners.some((l) => isTls(l.transport));
  if (!tlsAnywhere && (cfg.tlsCert !== '' || cfg.tlsKey !== '' || cfg.tlsCa !== '' || cfg.tlsClientAuth)) {
    throw invalid('TLS flags given without --tls-port or --wss-port');
  }
  if (cfg.tlsClientAuth && cfg.tlsCa === '') throw invalid('--tls-client-auth needs --tls-ca');
  if (cfg.wsPath !== '' && !cfg.wsPath.startsWith('/')) throw invalid(`--ws-path must start with /, got ${JSON.stringify(cfg.wsPath)}`);
  const wsAnywhere = cfg.wsPort !== null || cfg.wssPort !== null || cfg.listeners.some((l) => isWs(l.transport));
  if (cfg.wsPath !== '' && !wsAnywhere) throw invalid('--ws-path given without --ws-port or --wss-port');

  cfg.listeners.forEach((l, i) => {
    const at = (what: string): ConfigError => new ConfigError(listenerSources[i] ?? `listeners[${i}]`, `listeners[${i}] (${l.transport}): ${what}`);
    if (isTls(l.transport) && (l.cert === '' || l.key === '')) throw at('needs cert and key (or the top-level tls-cert and tls-key)');
    if (!isTls(l.transport) && (l.cert !== '' || l.key !== '' || l.ca !== '' || l.clientAuth)) throw at('cert, key, ca and client-auth are for tls and wss listeners');
    if (l.clientAuth && l.ca === '') throw at('client-auth needs ca');
    if (!isWs(l.transport) && l.path !== '') throw at('path is for ws and wss listeners');
    if (l.path !== '' && !l.path.startsWith('/')) throw at(`path must start with /, got ${JSON.stringify(l.path)}`);
  });

  if (cfg.clusterName !== '') {
    if (!/^[A-Za-z0-9_-]+$/.test(cfg.clusterName)) throw invalid(`--cluster-name may hold letters, digits, - and _ only, got ${JSON.stringify(cfg.clusterName)}`);
    if (!/^[A-Za-z0-9_-]+$/.test(cfg.clusterNodeId)) throw invalid(cfg.clusterNodeId === '' ? '--cluster-name needs --cluster-node-id' : `--cluster-node-id may hold letters, digits, - and _ only, got ${JSON.stringify(cfg.clusterNodeId)}`);
  }

  const seen = new Set<string>();
  for (const l of listenersOf(cfg)) {
    if (l.port === 0) continue;
    const where = `${l.host}:${l.port}`;
    if (seen.has(where)) throw invalid(`two listeners on ${where} (--port, --tls-port, --ws-port, --wss-port and listeners: must differ)`);
    seen.add(where);
  }
}
