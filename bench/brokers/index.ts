// The brokers a comparison can name, in their default order.
import type { BrokerLauncher } from './types.ts';
import { shoal, shoalAcl, shoalBase, shoalDurable, shoalFast, shoalMainAccept, shoalNoopHook, shoalScraped } from './shoal.ts';
import { mosquitto, mosquittoPersist } from './mosquitto.ts';
import { aedes } from './aedes.ts';

export type { BrokerHandle, BrokerLauncher, LaunchOptions } from './types.ts';

/** Opt-in variants run only when named in --brokers. */
export const launchers: readonly BrokerLauncher[] = [shoal, mosquitto, aedes, shoalFast, shoalDurable, shoalMainAccept, shoalScraped, shoalNoopHook, shoalBase, shoalAcl, mosquittoPersist];

export function launcherByName(name: string): BrokerLauncher | undefined {
  return launchers.find((l) => l.name === name);
}
