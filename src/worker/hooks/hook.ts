// The hooks room: hook.ts (what a hook may implement, and HookBase), registry.ts (the stack of a
// shard's hooks, loaded from the configuration, with a precomputed flag per point so a point no
// hook implements costs one boolean test), auth.ts (the CONNECT-time points as the shard's
// authentication hook), publish.ts and subscribe.ts (the decision points that may answer later:
// the connection holds its packets meanwhile, with a timeout).
//
// A hook runs inside every shard: a module whose default export is a factory
// `(options, context) => hook`, loaded once per shard at start (docs/hooks.md). Points have
// comqtt's names. "Runs on" says which shard calls it: the client's shard is the one that owns
// the connection (and its session); nothing else waits on a hook's answer.
import type { Logger } from 'pino';
import type { BrokerConfig } from '../../shared/config.ts';

export type Maybe<T> = T | Promise<T>;

/** What a hook is told about the client a point concerns (a fresh object per call: keep what you need). */
export interface HookClient {
  clientId: string;
  username: string | undefined;
  /** "ip:port" of the peer */
  address: string;
  /** 3, 4 or 5 */
  protocolVersion: number;
  /** the shard that owns the connection */
  shard: number;
}

/** A PUBLISH as hooks see and change it. */
export interface HookPublish {
  topic: string;
  payload: Buffer;
  qos: 0 | 1 | 2;
  retain: boolean;
}

export interface HookSubscription { filter: string; qos: 0 | 1 | 2 }

/**
 * Why a message for a session was not delivered (onPublishDropped): `offline` (QoS 0 for an
 * offline session, which is not queued), `qos0-full` (the session's QoS 0 queue at
 * --max-queued-qos0: a slow client's new message, or the oldest making room), `queue-full`
 * (--max-queued-messages / --max-queued-bytes), `store-full` (--max-store-bytes with
 * --store-full drop), `expired` (its Message Expiry passed while queued), `too-large` (beyond
 * the client's Maximum Packet Size).
 */
export type DropReason = 'offline' | 'qos0-full' | 'queue-full' | 'store-full' | 'expired' | 'too-large';

/** What a factory gets besides its options: where it runs. */
export interface HookContext {
  shard: number;
  shards: number;
  config: BrokerConfig;
  log: Logger;
}

/**
 * A refusal with more to say, for a v5 client's CONNACK (or DISCONNECT, at re-authentication):
 * `fail` the reason code ≥ 0x80 (e.g. 0x86, 0x87, 0x9C use another server, 0x9D server moved),
 * a Reason String, and the Server Reference 0x9C / 0x9D name. Elsewhere only its code counts.
 */
export interface Refusal { fail: number; reasonString?: string; serverReference?: string }

/**
 * A verdict: true allows; false refuses with the point's default reason; a number ≥ 0x80 refuses
 * with that v5 reason code; a Refusal likewise, with a Reason String or Server Reference.
 */
export type Verdict = boolean | number | Refusal;

/**
 * What the hook serving an MQTT 5 Authentication Method answers to each step of its exchange
 * (onAuthPacket): `continue` sends AUTH 0x18 with that Authentication Data and waits for the
 * client's next AUTH; `success` ends it (CONNACK 0x00, or AUTH 0x00 at re-authentication, with
 * the data if any); a Refusal ends it with CONNACK / DISCONNECT `fail`.
 */
export type AuthAnswer =
  | { continue: Buffer | undefined; reasonString?: string }
  | { success: Buffer | true | undefined; reasonString?: string }
  | Refusal;

/**
 * One enhanced-authentication conversation (a CONNECT's, or one re-authentication), the same
 * object for each of its steps: `step` counts them from 0 (the Authentication Data of CONNECT or
 * of AUTH 0x19), `state` is the serving hook's own (e.g. a SCRAM nonce between its steps).
 */
export interface AuthConversation {
  readonly reauth: boolean;
  /** the CONNECT's Password, if it had one (a method may use both) */
  readonly password: Buffer | undefined;
  step: number;
  state: unknown;
}

export interface Hook {
  /** Runs on every shard once it is up (its hooks loaded, the store open). */
  onStarted?(): void;
  /** Runs on every shard when the broker stops, before its store closes. */
  onStopped?(): Maybe<void>;
  /**
   * Runs on the client's shard for every CONNECT, before authentication (also before an MQTT 5
   * enhanced authentication's first step); may refuse (false: 0x87 Not Authorized / 3.1.1
   * code 5, or a reason code; a failing hook: 0x80 / code 3, as for onConnectAuthenticate).
   */
  onConnect?(client: HookClient): Maybe<Verdict>;
  /**
   * Runs on the client's shard for every CONNECT without an MQTT 5 Authentication Method (its
   * user name, if any, in `client`), after onConnect; every hook implementing it must allow, in
   * stack order: the files' (password file, or users file), the --auth-hook module's, then the
   * modules' (false: 0x86 / 3.1.1 code 4; a Refusal may add a Reason String or Server
   * Reference; a throw, a rejection or no answer within the hook timeout: 0x80 / code 3, logged).
   */
  onConnectAuthenticate?(client: HookClient, password: Buffer | undefined): Maybe<Verdict>;
  /**
   * The MQTT 5 Authentication Methods this hook serves (enhanced authentication, comqtt's
   * OnAuthPacket). A CONNECT naming a method is served by the first hook of the stack that
   * lists it (or whose supportsAuthMethod says so); one nobody serves gets CONNACK 0x8C.
   */
  authMethods?: readonly string[];
  /** Like authMethods, decided per method (a hook whose methods are not a fixed list). */
  supportsAuthMethod?(method: string): boolean;
  /**
   * Runs on the client's shard for each step of an MQTT 5 enhanced authentication, CONNECT's
   * (`reauth` false) and each re-authentication's (AUTH 0x19, `reauth` true). The hook serving
   * `method` answers it (AuthAnswer; a promise holds the connection's packets, up to the hook
   * timeout; a throw, a rejection or no answer in time: 0x80, logged). Any other hook
   * implementing it (one that serves no method) observes each step, its return ignored.
   */
  onAuthPacket?(client: HookClient, method: string, data: Buffer | undefined, reauth: boolean, conversation: AuthConversation): Maybe<AuthAnswer | void>;
  /** Runs on the client's shard once CONNACK 0x00 is sent; observes only. */
  onSessionEstablished?(client: HookClient, sessionPresent: boolean): void;
  /**
   * Runs on the client's shard when a connected client's connection closes, also when a new
   * CONNECT with its client id takes its session over (`takeover` true; the new connection may
   * be on another shard); `expire`: its session lives on (offline, or with the new connection
   * unless that one asked for a clean start). Observes only.
   */
  onDisconnect?(client: HookClient, expire: boolean, takeover: boolean): void;
  /**
   * Runs on the client's shard: `write` true for each PUBLISH it sends (false: v5 PUBACK/PUBREC
   * 0x87, QoS 0 and 3.1.1 dropped), false for each filter it subscribes (false: SUBACK 0x87 / 0x80).
   * Every hook implementing it must allow.
   */
  onACLCheck?(client: HookClient, topic: string, write: boolean): Maybe<Verdict>;
  /**
   * Runs on the publisher's shard for each PUBLISH it sends, after onACLCheck; may change topic,
   * payload, QoS and retain (return the changed packet) or refuse (false: 0x83 Implementation
   * specific error, or the v5 reason code returned). Hooks see the previous hook's result.
   */
  onPublish?(client: HookClient, packet: HookPublish): Maybe<HookPublish | Verdict | void>;
  /** Runs on the publisher's shard after a PUBLISH was routed; observes only. */
  onPublished?(client: HookClient, packet: HookPublish): void;
  /** Runs on the publisher's shard for a routed PUBLISH with retain set (a set, or a clear when the payload is empty); observes only. */
  onRetainMessage?(client: HookClient, packet: HookPublish): void;
  /** Runs on the subscriber's shard for each retained message sent after its SUBACK; observes only. */
  onRetainPublished?(client: HookClient, packet: HookPublish): void;
  /**
   * Runs on the client's shard for each SUBSCRIBE, after onACLCheck; may change the filters'
   * QoS (return the list) or refuse one (its entry's qos set to a reason code ≥ 0x80: SUBACK
   * carries it, 3.1.1 gets 0x80). Same length and order as given.
   */
  onSubscribe?(client: HookClient, subscriptions: HookSubscription[]): Maybe<HookSubscription[] | void>;
  /** Runs on the client's shard after SUBACK, with the SUBACK's reason codes; observes only. */
  onSubscribed?(client: HookClient, subscriptions: HookSubscription[], reasonCodes: number[]): void;
  /** Runs on the client's shard for each UNSUBSCRIBE, before it is applied; observes only. */
  onUnsubscribe?(client: HookClient, filters: string[]): void;
  /** Runs on the client's shard after UNSUBACK; observes only. */
  onUnsubscribed?(client: HookClient, filters: string[]): void;
  /**
   * Runs on the subscriber's shard for each QoS 1/2 PUBLISH sent to it (`packet.qos` is the
   * delivery QoS), `resend` true for one sent again with DUP when its session resumes; observes only.
   */
  onQosPublish?(client: HookClient, packet: HookPublish, packetId: number, resend: boolean): void;
  /** Runs on the client's shard when an outbound QoS 1/2 message is acknowledged (PUBACK / PUBCOMP); observes only. */
  onQosComplete?(client: HookClient, packetId: number, qos: 1 | 2): void;
  /**
   * Runs on the session's shard when a QoS 1/2 message in flight to it ends without completing:
   * the client refused it (PUBREC with a reason code ≥ 0x80), or the session ended (expired, or
   * replaced by a clean start) with it unacknowledged. Observes only.
   */
  onQosDropped?(clientId: string, packet: HookPublish, packetId: number): void;
  /**
   * Runs on the session's shard for a message that matched one of its subscriptions and is not
   * delivered (why: DropReason). Observes only.
   */
  onPublishDropped?(clientId: string, packet: HookPublish, reason: DropReason): void;
  /** Runs on the session's shard when its will is due; may change it (return the packet) or drop it (false). */
  onWill?(clientId: string, will: HookPublish): HookPublish | boolean | void;
  /** Runs on the session's shard after its will was routed; observes only. */
  onWillSent?(clientId: string, will: HookPublish): void;
  /** Runs on the session's shard when an offline session expires; observes only. */
  onClientExpired?(clientId: string): void;
  /**
   * Runs on the topic's home shard (the one that orders its retained sets) when a retained
   * message's Message Expiry has passed and it is removed from every shard and the store;
   * observes only.
   */
  onRetainedExpired?(topic: string): void;
  /** Runs on every shard at each $SYS update (--sys-interval) with the values main summed; observes only. */
  onSysInfoTick?(info: Readonly<Record<string, string>>): void;
}

/** The points, in the order docs/hooks.md lists them. */
export const HOOK_POINTS = [
  'onStarted', 'onStopped', 'onConnect', 'onConnectAuthenticate', 'onAuthPacket', 'onSessionEstablished', 'onDisconnect',
  'onACLCheck', 'onPublish', 'onPublished', 'onRetainMessage', 'onRetainPublished', 'onSubscribe', 'onSubscribed',
  'onUnsubscribe', 'onUnsubscribed', 'onQosPublish', 'onQosComplete', 'onQosDropped', 'onPublishDropped', 'onWill', 'onWillSent',
  'onClientExpired', 'onRetainedExpired', 'onSysInfoTick',
] as const satisfies readonly (keyof Hook)[];
export type HookPoint = (typeof HOOK_POINTS)[number];

/**
 * A hook whose every point does nothing (like mochi-mqtt's HookBase): extend it and override what
 * you need. The registry counts a point only where a subclass overrides the no-op, so an
 * inherited one costs nothing per message.
 */
export class HookBase implements Required<Omit<Hook, 'authMethods' | 'supportsAuthMethod'>> {
  readonly options: unknown;
  readonly context: HookContext;
  constructor(options: unknown, context: HookContext) {
    this.options = options;
    this.context = context;
  }
  onStarted(): void {}
  onStopped(): Maybe<void> {}
  onConnect(_client: HookClient): Maybe<Verdict> { return true; }
  onConnectAuthenticate(_client: HookClient, _password: Buffer | undefined): Maybe<Verdict> { return true; }
  onAuthPacket(_client: HookClient, _method: string, _data: Buffer | undefined, _reauth: boolean, _conversation: AuthConversation): Maybe<AuthAnswer | void> {}
  onSessionEstablished(_client: HookClient, _sessionPresent: boolean): void {}
  onDisconnect(_client: HookClient, _expire: boolean, _takeover: boolean): void {}
  onACLCheck(_client: HookClient, _topic: string, _write: boolean): Maybe<Verdict> { return true; }
  onPublish(_client: HookClient, packet: HookPublish): Maybe<HookPublish | Verdict | void> { return packet; }
  onPublished(_client: HookClient, _packet: HookPublish): void {}
  onRetainMessage(_client: HookClient, _packet: HookPublish): void {}
  onRetainPublished(_client: HookClient, _packet: HookPublish): void {}
  onSubscribe(_client: HookClient, subscriptions: HookSubscription[]): Maybe<HookSubscription[] | void> { return subscriptions; }
  onSubscribed(_client: HookClient, _subscriptions: HookSubscription[], _reasonCodes: number[]): void {}
  onUnsubscribe(_client: HookClient, _filters: string[]): void {}
  onUnsubscribed(_client: HookClient, _filters: string[]): void {}
  onQosPublish(_client: HookClient, _packet: HookPublish, _packetId: number, _resend: boolean): void {}
  onQosComplete(_client: HookClient, _packetId: number, _qos: 1 | 2): void {}
  onQosDropped(_clientId: string, _packet: HookPublish, _packetId: number): void {}
  onPublishDropped(_clientId: string, _packet: HookPublish, _reason: DropReason): void {}
  onWill(_clientId: string, will: HookPublish): HookPublish | boolean | void { return will; }
  onWillSent(_clientId: string, _will: HookPublish): void {}
  onClientExpired(_clientId: string): void {}
  onRetainedExpired(_topic: string): void {}
  onSysInfoTick(_info: Readonly<Record<string, string>>): void {}
}

/** A hook module's default export. */
export type HookFactory = (options: unknown, context: HookContext) => Maybe<Hook>;
