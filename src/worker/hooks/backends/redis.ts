// First-party hook: users and ACL rules kept in Redis (ioredis), as comqtt's Redis auth does.
// Load it as `shoal/hooks/redis`:
//
//   hooks:
//     - module: shoal/hooks/redis
//       options: {url: "redis://127.0.0.1:6379/0", usersKey: "shoal:users", aclPrefix: "shoal:acl:"}
//
// Users: the hash `usersKey`, field = user name, value = a secret in the password file's formats
// (Mosquitto's $7$ PBKDF2-SHA512 and $6$ SHA-512, SCRAM-SHA-256, bcrypt; plain text only with
// allowPlaintext), as `shoal passwd` writes them, checked on the shard's hashing pool. A name that is not there is checked against a
// decoy, so answer times do not tell which names exist. Clients without user name and password
// are left to the broker's own rules.
// ACL: the hash `aclPrefix + username` (anonymous clients: `aclPrefix + "$anonymous"`), field = a
// topic filter, value = r, w or rw. A PUBLISH is allowed when a w rule's filter matches its topic;
// a SUBSCRIBE filter when an r rule's filter contains every topic it matches. No rule: denied.
// Redis down or slower than timeoutMs: `onError` (deny), logged once per outage. Verdicts are
// cached per shard (cacheTtlMs, cacheSize); failures are not.
import { createHash } from 'node:crypto';
import { Redis } from 'ioredis';
import { contains } from '../../../shared/auth/filter-sets.ts';
import { topicMatches } from '../../../shared/topics/trie.ts';
import type { Hook, HookClient, HookContext } from '../hook.ts';
import { commonOptions, Decisions, option, Outage, type BackendOptions } from './common.ts';
import { PasswordChecker } from './passwords.ts';

const MODULE = 'shoal/hooks/redis';
const ANONYMOUS = '$anonymous';

export default function redisBackend(raw: unknown, context: HookContext): Hook & { onStopped(): Promise<void> } {
  const o = (raw ?? {}) as BackendOptions;
  const isText = (v: unknown): boolean => typeof v === 'string' && v !== '';
  const url = option(MODULE, o, 'url', isText, 'redis://127.0.0.1:6379/0', 'a redis:// URL');
  const usersKey = option(MODULE, o, 'usersKey', isText, 'shoal:users', 'a key name');
  const aclPrefix = option(MODULE, o, 'aclPrefix', isText, 'shoal:acl:', 'a key prefix');
  const allowPlaintext = option(MODULE, o, 'allowPlaintext', (v) => typeof v === 'boolean', false, 'true or false');
  const { timeoutMs, onErrorAllows, cache } = commonOptions(MODULE, o);
  new URL(url); // a bad URL fails the start
  const decisions = new Decisions({ timeoutMs, onErrorAllows, cache }, new Outage(context.log, 'redis', 'redis'));
  const outage = decisions.outage;
  const passwords = new PasswordChecker({ type: 'auto', hashKey: '', allowPlaintext, threads: context.config.hashThreads });
  // No offline queue: a command while Redis is away fails at once instead of waiting, and the
  // verdict is onError; reconnection goes on in the background.
  const redis = new Redis(url, { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0, connectTimeout: timeoutMs, commandTimeout: timeoutMs });
  redis.on('error', (err: Error) => outage.failed(err, onErrorAllows));
  redis.connect().catch((err: unknown) => outage.failed(err, onErrorAllows));

  return {
    onConnectAuthenticate(client: HookClient, password: Buffer | undefined) {
      if (client.username === undefined && password === undefined) return true;
      if (client.username === undefined || password === undefined) return false;
      const user = client.username;
      const digest = createHash('sha256').update(password).digest('base64');
      return decisions.decide(`connect\u0000${user}\u0000${digest}`, async () => passwords.verify(await redis.hget(usersKey, user), password));
    },
    onACLCheck(client: HookClient, topic: string, write: boolean) {
      const user = client.username ?? ANONYMOUS;
      return decisions.decide(`${write ? 'w' : 'r'}\u0000${user}\u0000${topic}`, async () => {
        const rules = await redis.hgetall(aclPrefix + user);
        const levels = topic.split('/');
        for (const [filter, access] of Object.entries(rules)) {
          if (!access.includes(write ? 'w' : 'r')) continue;
          if (write ? topicMatches(filter, topic) : contains(filter.split('/'), levels)) return true;
        }
        return false;
      });
    },
    async onStopped() { redis.disconnect(); await passwords.close(); },
  };
}
