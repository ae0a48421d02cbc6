// The brokers a comparison can name, in their default order.
import type { BrokerLauncher } from './types.ts';
import { shoal } from './shoal.ts';
import { mosquitto } from './mosquitto.ts';
import { aedes } from './aedes.ts';

export type { BrokerHandle, BrokerLauncher, LaunchOptions } from './types.ts';

export const launchers: readonly BrokerLauncher[] = [shoal, mosquitto, aedes];

export function launcherByName(name: string): BrokerLauncher | undefined {
  return launchers.find((l) => l.name === name);
}
