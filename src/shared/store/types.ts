// The persistence contract between the broker core and its store. Everything a shard must
// get back after a crash or restart goes through here: retained messages, persistent
// sessions, their queued and in-flight messages, and inbound QoS 2 packet ids.

export type Persistence = 'durable' | 'fast' | 'memory';

export interface StoredMessage {
  topic: string;
  payload: Buffer;
  qos: 0 | 1 | 2;
  retain: boolean;
  /** MQTT 5 PUBLISH properties as encoded on the wire (opaque to the store), null if none. */
  properties: Buffer | null;
  /** ms since epoch, 0 = never. */
  expiresAt: number;
}

export interface StoredSubscription {
  filter: string;
  qos: 0 | 1 | 2;
  noLocal: boolean;
  retainAsPublished: boolean;
  retainHandling: 0 | 1 | 2;
  /** 0 = none. */
  subscriptionId: number;
}

export interface StoredWill {
  topic: string;
  payload: Buffer;
  qos: 0 | 1 | 2;
  retain: boolean;
  properties: Buffer | null;
  delayMs: number;
}

export interface StoredSession {
  clientId: string;
  protocolVersion: 3 | 4 | 5;
  /** seconds; 0xFFFFFFFF = never. */
  expiryInterval: number;
  /** ms epoch; 0 while connected. */
  disconnectedAt: number;
  subscriptions: StoredSubscription[];
  will: StoredWill | null;
  nextPacketId: number;
  /**
   * The user name the session's client connected with (null: none), for the ACL checks made on
   * its behalf while it is offline (its will, deliveries to its queue). Absent in records
   * written before it was kept: the identity is unknown.
   */
  username?: string | null;
}

export type OutboundState = 'queued' | 'sent' | 'pubrel';

/** One message owed to a session, kept FIFO by a per-session sequence number. */
export interface OutboundEntry {
  packetId: number;
  state: OutboundState;
  msg: StoredMessage;
}

export interface StoreStats {
  retained: number;
  sessions: number;
  /** Bytes of live data (LMDB: pages in use, not the file size, which never shrinks). */
  bytes: number;
}

export interface Store {
  readonly persistence: Persistence;
  /**
   * Creates the directory if missing. Refuses a directory it did not create or cannot read
   * with a StoreError: 'STORE_FOREIGN', 'STORE_CORRUPT', 'STORE_VERSION' or 'STORE_IO'.
   */
  open(): Promise<void>;
  close(): Promise<void>;

  // Retained messages.
  /** null clears the topic. */
  putRetained(topic: string, msg: StoredMessage | null): Promise<void>;
  /** All current retained messages; expired ones are skipped and deleted. */
  loadRetained(): Iterable<StoredMessage>;

  // Sessions.
  putSession(s: StoredSession): Promise<void>;
  getSession(clientId: string): StoredSession | undefined;
  /** Also deletes the session's outbound queue and inbound QoS 2 ids. */
  deleteSession(clientId: string): Promise<void>;
  listSessions(): Iterable<StoredSession>;

  // Outbound queue and in-flight messages per session, ordered by a per-session sequence.
  putOutbound(clientId: string, seq: number, e: OutboundEntry): Promise<void>;
  deleteOutbound(clientId: string, seq: number): Promise<void>;
  /** Ascending seq. */
  loadOutbound(clientId: string): Array<[seq: number, e: OutboundEntry]>;

  // Inbound QoS 2 packet ids awaiting PUBREL.
  putInboundQos2(clientId: string, packetId: number): Promise<void>;
  deleteInboundQos2(clientId: string, packetId: number): Promise<void>;
  /** Ascending packet id. */
  loadInboundQos2(clientId: string): number[];

  // Client ids refused at CONNECT (the admin port's blacklist).
  /** Adds (true) or removes (false) a banned client id. */
  putBanned(clientId: string, banned: boolean): Promise<void>;
  loadBanned(): string[];

  stats(): StoreStats;

  /**
   * Resolves once every write issued so far has committed (durable: and reached the disk);
   * rejects when one of them failed. Group commit: one promise per transaction, not per write.
   */
  flushed(): Promise<void>;
  /** Bytes of live data, cheap enough to poll every second (LMDB: pages in use). */
  usedBytes(): number;
}

export interface StoreOptions {
  persistence: Persistence;
  /** Ignored in memory mode. The directory belongs to the store alone. */
  dataDir: string;
  /** Initial LMDB map size; LMDB grows it on demand either way. */
  mapSizeBytes?: number;
}
