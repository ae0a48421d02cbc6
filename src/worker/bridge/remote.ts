// The remote side's byte stream: TCP or TLS to the bridge's addresses, tried in order, with a
// capped exponential backoff and jitter between rounds (Mosquitto's restart_timeout base cap).
import { readFileSync } from 'node:fs';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import tls from 'node:tls';
import type { BridgeAddress, BridgeConfig } from '../../shared/config/bridges.ts';

/** Opens a stream to `a`; resolves once connected (and, for TLS, the handshake is done). */
export function openStream(cfg: BridgeConfig, a: BridgeAddress, timeoutMs: number): Promise<Duplex> {
  return new Promise((resolve, reject) => {
    let s: net.Socket;
    const ready = (): void => { s.setTimeout(0); s.removeListener('error', onError); s.setNoDelay(true); resolve(s); };
    const onError = (err: NodeJS.ErrnoException): void => { s.destroy(); reject(new Error(`${a.host}:${a.port}: ${err.code ?? err.message}`)); };
    if (cfg.tls) {
      let options: tls.ConnectionOptions;
      try {
        options = {
          host: a.host, port: a.port, servername: net.isIP(a.host) === 0 ? a.host : undefined,
          ca: cfg.ca === '' ? undefined : readFileSync(cfg.ca), cert: cfg.cert === '' ? undefined : readFileSync(cfg.cert),
          key: cfg.key === '' ? undefined : readFileSync(cfg.key),
          checkServerIdentity: cfg.insecure ? () => undefined : tls.checkServerIdentity,
        };
      } catch (err) {
        reject(new Error(`TLS files: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message} (${(err as NodeJS.ErrnoException).path ?? ''})`));
        return;
      }
      s = tls.connect(options, ready);
    } else {
      s = net.connect({ host: a.host, port: a.port }, ready);
    }
    s.setTimeout(timeoutMs, () => onError(Object.assign(new Error('timeout'), { code: `no connection within ${timeoutMs} ms` })));
    s.once('error', onError);
  });
}

/** The wait before reconnect attempt `failures` (1, 2, ...): base·2^(n-1) capped, times 0.5..1. */
export function backoffMs(cfg: BridgeConfig, failures: number): number {
  const d = Math.min(cfg.restartCapMs, cfg.restartBaseMs * 2 ** Math.min(failures - 1, 30));
  return cfg.restartBaseMs === cfg.restartCapMs ? d : Math.round(d * (0.5 + Math.random() / 2));
}
