// GET /api/v1/mqtt/config: comqtt answers with its server Options (Capabilities and a few
// settings); Shoal gives the same keys for what it has, and its own effective configuration
// under `shoal`, secrets masked.
import type { BrokerConfig } from '../../shared/config.ts';

/** Keys whose values never leave the process. */
const SECRETS: readonly (keyof BrokerConfig)[] = ['httpToken'];
export const MASK = '********';

const flag = (on: boolean): number => (on ? 1 : 0);

export function configView(config: BrokerConfig): Record<string, unknown> {
  const shoal: Record<string, unknown> = { ...config };
  for (const k of SECRETS) if (shoal[k] !== '') shoal[k] = MASK;
  return {
    Capabilities: {
      MaximumPacketSize: config.maxPacketSize,
      ReceiveMaximum: config.receiveMaximum,
      TopicAliasMaximum: config.topicAliasMaximum,
      MaximumQos: config.maxQos,
      RetainAvailable: flag(config.retainAvailable),
      WildcardSubAvailable: flag(config.wildcardSubscriptions),
      SubIDAvailable: flag(config.subscriptionIdentifiers),
      SharedSubAvailable: flag(config.sharedSubscriptions),
      MinimumProtocolVersion: 3,
    },
    SysTopicResendInterval: config.sysInterval,
    InlineClient: false,
    shoal,
  };
}
