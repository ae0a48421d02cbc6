// Errors with stable codes: callers (and tests, and operators grepping logs) match on `code`,
// never on message text, so messages can improve without breaking anyone.
export const ErrorCode = {
  CONFIG_INVALID: 'SHOAL_CONFIG_INVALID',
  NODE_TOO_OLD: 'SHOAL_NODE_TOO_OLD',
  LISTEN_FAILED: 'SHOAL_LISTEN_FAILED',
  SHARD_START_FAILED: 'SHOAL_SHARD_START_FAILED',
  START_TIMEOUT: 'SHOAL_START_TIMEOUT',
  STORE_OPEN_FAILED: 'SHOAL_STORE_OPEN_FAILED',
  TLS_INVALID: 'SHOAL_TLS_INVALID',
  PROTOCOL: 'SHOAL_PROTOCOL',
  FRAME_INVALID: 'SHOAL_FRAME_INVALID',
  // Admin HTTP answers (the `code` of their JSON error body; docs/api.yaml).
  HTTP_UNAUTHORIZED: 'SHOAL_HTTP_UNAUTHORIZED',
  HTTP_NOT_FOUND: 'SHOAL_HTTP_NOT_FOUND',
  HTTP_METHOD_NOT_ALLOWED: 'SHOAL_HTTP_METHOD_NOT_ALLOWED',
  HTTP_BAD_REQUEST: 'SHOAL_HTTP_BAD_REQUEST',
  HTTP_SHARDS_UNAVAILABLE: 'SHOAL_HTTP_SHARDS_UNAVAILABLE',
  HTTP_INTERNAL: 'SHOAL_HTTP_INTERNAL',
  HTTP_CLIENT_NOT_FOUND: 'SHOAL_HTTP_CLIENT_NOT_FOUND',
  HTTP_SUBSCRIPTION_NOT_FOUND: 'SHOAL_HTTP_SUBSCRIPTION_NOT_FOUND',
  HTTP_RETAINED_NOT_FOUND: 'SHOAL_HTTP_RETAINED_NOT_FOUND',
  HTTP_NOT_BANNED: 'SHOAL_HTTP_NOT_BANNED',
  HTTP_BAD_TOPIC: 'SHOAL_HTTP_BAD_TOPIC',
  HTTP_PUBLISH_FAILED: 'SHOAL_HTTP_PUBLISH_FAILED',
  /** a /api/v1/cluster/ endpoint on a node started without --cluster-name */
  HTTP_NOT_A_CLUSTER: 'SHOAL_HTTP_NOT_A_CLUSTER',
  /** a /api/v1/cluster/ endpoint that needs NATS while this node is cut off from it */
  HTTP_CLUSTER_UNAVAILABLE: 'SHOAL_HTTP_CLUSTER_UNAVAILABLE',
  /** a password file line that is not `name:<hash>` in a known format (names file and line) */
  PASSWORD_FILE_INVALID: 'SHOAL_PASSWORD_FILE_INVALID',
  /** a plain-text password in a password file loaded without allowPlaintext (names file and line) */
  PASSWORD_PLAINTEXT: 'SHOAL_PASSWORD_PLAINTEXT',
  /** an ACL file line that is not Mosquitto `acl_file` syntax (names file and line) */
  ACL_FILE_INVALID: 'SHOAL_ACL_FILE_INVALID',
  /** the password hashing pool's queue is full: the CONNECT path answers "server busy" */
  HASH_POOL_BUSY: 'SHOAL_HASH_POOL_BUSY',
  /** broker.publish() with a topic, payload, QoS or properties that cannot be a PUBLISH */
  PUBLISH_INVALID: 'SHOAL_PUBLISH_INVALID',
  /** broker.publish() at QoS 1/2 whose commit failed (or a shard it went to crashed first) */
  PUBLISH_FAILED: 'SHOAL_PUBLISH_FAILED',
  /** the embedding API asked for something while the broker is not running (closed, or no shard up) */
  BROKER_NOT_RUNNING: 'SHOAL_BROKER_NOT_RUNNING',
  /** --cluster-name given and no NATS server of --cluster-nats answered at start (or it has no JetStream) */
  CLUSTER_UNAVAILABLE: 'SHOAL_CLUSTER_UNAVAILABLE',
} as const;
export type ErrorCodeValue = (typeof ErrorCode)[keyof typeof ErrorCode];

export class ShoalError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ShoalError';
    this.code = code;
  }
}

/** A protocol violation by a client: carries the MQTT 5 reason code the connection is closed with. */
export class ProtocolError extends ShoalError {
  readonly reason: number;
  constructor(reason: number, message: string) {
    super(ErrorCode.PROTOCOL, message);
    this.name = 'ProtocolError';
    this.reason = reason;
  }
}
