// The logger of main and of every shard: pino on stderr, as JSON or, for a person at a
// terminal, through pino-pretty (loaded only then: JSON costs no import).
import { isatty } from 'node:tty';
import pino, { type Logger } from 'pino';
import type { BrokerConfig } from './config.ts';

export async function createLogger(config: Pick<BrokerConfig, 'logLevel' | 'logFormat'>, base: Record<string, unknown> | null): Promise<Logger> {
  const options = { level: config.logLevel, base };
  if (config.logFormat === 'json') return pino(options, pino.destination(2));
  const { default: pretty } = await import('pino-pretty');
  // Synchronous like pino.destination(2): a line logged just before process.exit is not lost.
  return pino(options, pretty({ destination: 2, sync: true, colorize: isatty(2), ignore: 'pid,hostname' }));
}
