// A hook module without any import, so it also runs from a checkout (docs/hooks.md):
//   shoal --hook ./examples/hooks/audit.mjs
// The default export is a factory (options, context) => hook; the hook is a plain object that
// implements the points it needs. This one logs every session and refuses client ids that
// start with options.bannedPrefix (default "banned-") with v5 reason 0x8A Banned.
export default function audit(options, context) {
  const banned = options.bannedPrefix ?? 'banned-';
  return {
    onConnect(client) {
      return client.clientId.startsWith(banned) ? 0x8a : true;
    },
    onSessionEstablished(client, sessionPresent) {
      context.log.info({ client: client.clientId, user: client.username, address: client.address, shard: context.shard, sessionPresent }, 'audit: session established');
    },
    onDisconnect(client) {
      context.log.info({ client: client.clientId, shard: context.shard }, 'audit: disconnected');
    },
  };
}
