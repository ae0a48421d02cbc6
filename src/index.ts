// The package entry (`import { createBroker } from 'shoal'`): the embedding API and what a hook
// module needs. docs/embedding.md and docs/hooks.md.
export { createBroker, Broker, version, type BrokerOptions, type PublishOptions, type ClientInfo, type ShardRequests } from './main/broker.ts';
export { HookBase, HOOK_POINTS, type Hook, type HookClient, type HookContext, type HookFactory, type HookPoint, type HookPublish, type HookSubscription, type DropReason, type Verdict, type Refusal, type AuthAnswer, type AuthConversation, type Maybe } from './worker/hooks/hook.ts';
export { ShoalError, ErrorCode } from './shared/errors.ts';
export { Reason } from './shared/protocol/reason-codes.ts';
export type { BrokerConfig, HookSpec } from './shared/config.ts';
