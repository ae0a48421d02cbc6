// Exit codes and the words for a connection failure: which limit was hit and what to change.
import { localPortRange, openFilesLimit } from './sysinfo.ts';

export const EXIT_PASS = 0;
export const EXIT_FAIL = 1;
export const EXIT_USAGE = 2;

export interface FailureContext {
  connections: number;
  broker: string;
  sourceGiven: boolean;
}

export function explainFailure(code: string, ctx: FailureContext): string {
  switch (code) {
    case 'EMFILE':
    case 'ENFILE': {
      const limit = openFilesLimit();
      const which = code === 'ENFILE' ? 'system-wide open-files limit (fs.file-max)' : `open-files limit (ulimit -n = ${limit ?? '?'})`;
      return `${which} reached after ${ctx.connections} connections; raise it with \`ulimit -n\`${code === 'ENFILE' ? ' and sysctl fs.file-max' : ''}`;
    }
    case 'EADDRNOTAVAIL':
    case 'EADDRINUSE':
      return `out of local ports for this source address after ${ctx.connections} connections; ${ctx.sourceGiven ? 'widen --source' : 'add --source 127.0.0.1-127.0.0.16'} or widen net.ipv4.ip_local_port_range (now ${localPortRange() ?? '?'})`;
    case 'ECONNREFUSED':
      return `connection refused by ${ctx.broker}: is the broker running and listening there?`;
    case 'ETIMEDOUT':
      return `no CONNACK from ${ctx.broker} within --timeout after ${ctx.connections} connections: broker overloaded, or its listen backlog (net.core.somaxconn) is full`;
    case 'ECONNRESET':
    case 'EPIPE':
      return `${ctx.broker} closed the connection during CONNECT after ${ctx.connections} connections (a connection limit in the broker?)`;
    case 'SUBACK_FAILED':
      return `${ctx.broker} refused a subscription`;
    default:
      if (code.startsWith('CONNACK_')) {
        const rc = Number(code.slice(8));
        return `${ctx.broker} refused CONNECT with code ${rc}: ${CONNACK_WORDS[rc] ?? 'see the MQTT spec'}`;
      }
      return `connection failed with ${code} after ${ctx.connections} connections`;
  }
}

/** Failures that mean this machine ran out of something, so starting more connections is pointless. */
export function isLocalLimit(code: string): boolean {
  return code === 'EMFILE' || code === 'ENFILE' || code === 'EADDRNOTAVAIL' || code === 'EADDRINUSE';
}

/** CONNACK return codes (3.1/3.1.1) and common v5 reason codes. */
const CONNACK_WORDS: Record<number, string> = {
  1: 'unacceptable protocol version (try another --protocol)',
  2: 'client identifier rejected',
  3: 'server unavailable',
  4: 'bad user name or password',
  5: 'not authorized',
  0x80: 'unspecified error',
  0x81: 'malformed packet',
  0x84: 'unsupported protocol version (try another --protocol)',
  0x85: 'client identifier not valid',
  0x86: 'bad user name or password',
  0x87: 'not authorized',
  0x88: 'server unavailable',
  0x89: 'server busy',
  0x8a: 'banned',
  0x9f: 'connection rate exceeded',
};
