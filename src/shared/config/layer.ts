// What one source (defaults, file, environment, flags) sets: value and where it came from, so
// --print-config can say which source won and errors can name it.
import type { BrokerConfig } from '../config.ts';

export interface Setting { value: unknown; source: string }
export type Layer = Map<keyof BrokerConfig, Setting>;
