// A connection's protocol state, in a module of its own so that the packet handlers and the
// parts that check it (delivery, routing, durability, registry) need no run-time import of
// connection.ts, which itself imports the dispatcher.
// AUTHENTICATING: CONNECT named an Authentication Method and its AUTH exchange is under way (no CONNACK yet).
export const ConnState = { NEW: 0, CONNECTING: 1, CONNECTED: 2, CLOSED: 3, AUTHENTICATING: 4 } as const;
export type ConnStateValue = (typeof ConnState)[keyof typeof ConnState];
