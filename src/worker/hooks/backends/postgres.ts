// First-party hook: users and ACL rules in PostgreSQL, in comqtt's schema (its mqtt_user and
// mqtt_acl tables, docs/hooks.md has the SQL), through node-postgres (`pg`). Load it as
// `shoal/hooks/postgres`:
//
//   hooks:
//     - module: shoal/hooks/postgres
//       options: {url: "postgres://mqtt:secret@127.0.0.1:5432/mqtt", passwordHash: bcrypt}
//
// Users: the row of mqtt_user whose username is the CONNECT's user name (`authBy: clientId`:
// its client id, comqtt's auth-mode 2); allow = 0 refuses; password in the format `passwordHash`
// names: comqtt's types (0 none, 1 bcrypt, 2 md5, 3 sha1, 4 sha256, 5 sha512, 6-8 hmac-sha1 /
// -sha256 / -sha512 with `hashKey`, unsalted hex) or "auto" (the default: whatever the secret
// says, the password file's formats and bcrypt; plain text only with allowPlaintext). Clients
// without user name and password are left to the broker's own rules.
// ACL: the rows of mqtt_acl for the user name (`aclBy: clientId`: the client id; anonymous
// clients: "$anonymous"), access 0 deny / 1 subscribe / 2 publish / 3 both, the longest matching
// filter decides, no row: denied (comqtt-acl.ts).
// PostgreSQL down or slower than timeoutMs: `onError` (deny), logged once per outage. Verdicts
// are cached per shard (cacheTtlMs, cacheSize); failures are not.
import { createHash } from 'node:crypto';
import pg from 'pg';
import type { Hook, HookClient, HookContext } from '../hook.ts';
import { comqttAcl } from './comqtt-acl.ts';
import { commonOptions, Decisions, isPositive, option, Outage, type BackendOptions } from './common.ts';
import { hashType, PasswordChecker, type HashType } from './passwords.ts';

const MODULE = 'shoal/hooks/postgres';
const ANONYMOUS = '$anonymous';
// A table name goes into the SQL text (it cannot be a parameter): only plain identifiers.
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$/;

export default function postgresBackend(raw: unknown, context: HookContext): Hook & { onStopped(): Promise<void> } {
  const o = (raw ?? {}) as BackendOptions;
  const isText = (v: unknown): boolean => typeof v === 'string' && v !== '';
  const isTable = (v: unknown): boolean => typeof v === 'string' && IDENTIFIER.test(v);
  const isBy = (v: unknown): boolean => v === 'username' || v === 'clientId';
  const url = option(MODULE, o, 'url', isText, 'postgres://127.0.0.1:5432/postgres', 'a postgres:// URL');
  const userTable = option(MODULE, o, 'userTable', isTable, 'mqtt_user', 'a table name');
  const aclTable = option(MODULE, o, 'aclTable', isTable, 'mqtt_acl', 'a table name');
  const authBy = option<'username' | 'clientId'>(MODULE, o, 'authBy', isBy, 'username', '"username" or "clientId"');
  const aclBy = option<'username' | 'clientId'>(MODULE, o, 'aclBy', isBy, 'username', '"username" or "clientId"');
  const type = option<HashType>(MODULE, o, 'passwordHash', (v) => hashType(v) !== undefined, 'auto', 'auto or one of comqtt\'s hash types (none, bcrypt, md5, sha1, sha256, sha512, hmac-sha1, hmac-sha256, hmac-sha512, or 0-8)');
  const hashKey = option(MODULE, o, 'hashKey', (v) => typeof v === 'string', '', 'a string');
  const allowPlaintext = option(MODULE, o, 'allowPlaintext', (v) => typeof v === 'boolean', false, 'true or false');
  const poolSize = option(MODULE, o, 'poolSize', isPositive, 2, 'a positive integer');
  const common = commonOptions(MODULE, o);
  const passwordHash = hashType(type)!;
  if (passwordHash.startsWith('hmac-') && hashKey === '') throw new Error(`${MODULE}: options.hashKey is needed for passwordHash ${passwordHash}`);
  new URL(url); // a bad URL fails the start
  const decisions = new Decisions(common, new Outage(context.log, 'postgres', 'postgresql'));
  const passwords = new PasswordChecker({ type: passwordHash, hashKey, allowPlaintext, threads: context.config.hashThreads });
  // The pool's own bounds are the timeout too, so a PostgreSQL that accepts and never answers
  // gives back its connection; the decision's timeout (Decisions) bounds the wait for one.
  const db = new pg.Pool({ connectionString: url, max: poolSize, connectionTimeoutMillis: common.timeoutMs, query_timeout: common.timeoutMs, idleTimeoutMillis: 30_000 });
  db.on('error', (err: Error) => decisions.outage.failed(err, common.onErrorAllows)); // an idle connection lost
  const userSql = { name: 'shoal-user', text: `SELECT password, allow FROM ${userTable} WHERE username = $1` };
  const aclSql = { name: 'shoal-acl', text: `SELECT topic, access FROM ${aclTable} WHERE username = $1` };

  const keyOf = (by: 'username' | 'clientId', client: HookClient): string | undefined => (by === 'clientId' ? client.clientId : client.username);

  return {
    onConnectAuthenticate(client: HookClient, password: Buffer | undefined) {
      if (client.username === undefined && password === undefined) return true;
      const user = keyOf(authBy, client);
      if (user === undefined || password === undefined) return false;
      // The password enters the cache key only as a digest: the cache keeps no secret.
      const digest = createHash('sha256').update(password).digest('base64');
      return decisions.decide(`connect\u0000${user}\u0000${digest}`, async () => {
        const { rows } = await db.query<{ password: string; allow: number }>({ ...userSql, values: [user] });
        const row = rows[0];
        const ok = await passwords.verify(row === undefined ? null : row.password, password);
        return row !== undefined && row.allow !== 0 && ok;
      });
    },
    onACLCheck(client: HookClient, topic: string, write: boolean) {
      const user = keyOf(aclBy, client) ?? ANONYMOUS;
      return decisions.decide(`${write ? 'w' : 'r'}\u0000${user}\u0000${topic}`, async () => {
        const { rows } = await db.query<{ topic: string; access: number }>({ ...aclSql, values: [user] });
        return comqttAcl(rows.map((r) => ({ filter: r.topic, access: r.access })), topic, write);
      });
    },
    async onStopped() {
      await Promise.all([db.end().catch(() => undefined), passwords.close()]);
    },
  };
}
