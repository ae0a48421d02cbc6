// TLS material: read and checked once by main at start-up (a bad file is one line and exit 1,
// not a crash in a shard), then handed to every shard, which builds its own secure context.
import { readFileSync } from 'node:fs';
import tls from 'node:tls';
import type { BrokerConfig } from './config.ts';
import { ErrorCode, ShoalError } from './errors.ts';

/** The transport a listener speaks; a socket handed to a shard is tagged with it. */
export type Transport = 'tcp' | 'tls' | 'ws' | 'wss';

/** PEM contents (not paths: a restarted shard gets exactly what main checked). */
export interface TlsMaterial {
  cert: string;
  key: string;
  ca: string | null;
  clientAuth: boolean;
}

function readPem(flag: string, path: string): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ShoalError(ErrorCode.TLS_INVALID, `${flag} ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err });
  }
  if (!text.includes('-----BEGIN ')) throw new ShoalError(ErrorCode.TLS_INVALID, `${flag} ${path}: not a PEM file`);
  return text;
}

/** Reads --tls-cert/--tls-key/--tls-ca when a TLS listener is configured; null otherwise. Throws TLS_INVALID. */
export function loadTlsMaterial(config: BrokerConfig): TlsMaterial | null {
  if (config.tlsPort === null && config.wssPort === null) return null;
  const m: TlsMaterial = {
    cert: readPem('--tls-cert', config.tlsCert),
    key: readPem('--tls-key', config.tlsKey),
    ca: config.tlsCa === '' ? null : readPem('--tls-ca', config.tlsCa),
    clientAuth: config.tlsClientAuth,
  };
  try {
    tls.createSecureContext(credentialsOf(m)); // parses every PEM and checks that the key matches the certificate
  } catch (err) {
    const e = err as Error & { code?: string };
    throw new ShoalError(ErrorCode.TLS_INVALID, `--tls-cert ${config.tlsCert} / --tls-key ${config.tlsKey}${m.ca === null ? '' : ` / --tls-ca ${config.tlsCa}`}: ${e.message.split('\n')[0]}${e.code ? ` (${e.code})` : ''}`, { cause: err });
  }
  return m;
}

/** The options of tls.createSecureContext / tls.createServer for this material. */
export function credentialsOf(m: TlsMaterial): tls.SecureContextOptions {
  return { cert: m.cert, key: m.key, ...(m.ca === null ? {} : { ca: m.ca }) };
}
