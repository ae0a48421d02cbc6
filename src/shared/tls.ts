// TLS material: read and checked once by main at start-up (a bad file is one line and exit 1,
// not a crash in a shard), then handed to every shard, which builds its own secure context.
import { readFileSync } from 'node:fs';
import tls from 'node:tls';
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

/** The files of one TLS listener and the names errors call them by (--tls-cert, listeners[2].cert). */
export interface TlsFiles { cert: string; key: string; ca: string; clientAuth: boolean }
const FLAG_NAMES = { cert: '--tls-cert', key: '--tls-key', ca: '--tls-ca' };

/** Reads and checks one listener's PEM files. Throws TLS_INVALID naming the file by `names`. */
export function readTlsMaterial(files: TlsFiles, names: { cert: string; key: string; ca: string } = FLAG_NAMES): TlsMaterial {
  const m: TlsMaterial = {
    cert: readPem(names.cert, files.cert),
    key: readPem(names.key, files.key),
    ca: files.ca === '' ? null : readPem(names.ca, files.ca),
    clientAuth: files.clientAuth,
  };
  try {
    tls.createSecureContext(credentialsOf(m)); // parses every PEM and checks that the key matches the certificate
  } catch (err) {
    const e = err as Error & { code?: string };
    throw new ShoalError(ErrorCode.TLS_INVALID, `${names.cert} ${files.cert} / ${names.key} ${files.key}${m.ca === null ? '' : ` / ${names.ca} ${files.ca}`}: ${e.message.split('\n')[0]}${e.code ? ` (${e.code})` : ''}`, { cause: err });
  }
  return m;
}

/** The options of tls.createSecureContext / tls.createServer for this material. */
export function credentialsOf(m: TlsMaterial): tls.SecureContextOptions {
  return { cert: m.cert, key: m.key, ...(m.ca === null ? {} : { ca: m.ca }) };
}
