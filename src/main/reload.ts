// SIGHUP: reload the password file, the ACL file and the TLS certificates and keys without
// dropping a connection. Main reads and checks each file here; one that fails keeps the old
// one (logged with the reason: the file and line), the rest are sent to every shard over the
// control channel, where new CONNECTs, the next operation of every connected client (its ACL
// rules are prepared again) and new TLS handshakes use them. The supervisor keeps what was
// sent, so a shard restarted later starts from the same texts, not from the disk.
// The config file's `bridges:` list is read again too (only that key: the rest of the file needs
// a restart): the whole file must read cleanly, or the old bridges stay; the shards then start
// the bridges added, stop the removed ones and restart the changed ones (worker/bridge/index.ts).
import type { Logger } from 'pino';
import { readSecurityFile } from '../shared/auth/files.ts';
import { ErrorCode } from '../shared/errors.ts';
import { Acl } from '../shared/auth/acl.ts';
import { parsePasswordFile } from '../shared/auth/password-file.ts';
import type { BrokerConfig, ListenerConfig } from '../shared/config.ts';
import type { BridgeConfig } from '../shared/config/bridges.ts';
import { readConfigFile } from '../shared/config/file.ts';
import type { ControlToShard, ShardListener } from '../shared/control.ts';
import { shardListenersOf } from './listeners.ts';

export interface ReloadDeps {
  config: BrokerConfig;
  listeners: readonly ListenerConfig[];
  /** The --config file, whose bridges: are read again; null: none (createBroker's bridges stay). */
  configFile: string | null;
  /** reload(): keep the texts for shards that start later, and send them to every shard up */
  shards: { reload(msg: ControlToShard & { type: 'reload' }): void };
  log: Logger;
}

/** Reads and checks one file; null (and a log line saying why the old one stays) when it fails. */
function readChecked(what: string, path: string, code: typeof ErrorCode.PASSWORD_FILE_INVALID | typeof ErrorCode.ACL_FILE_INVALID,
  check: (text: string) => { warnings: readonly string[] }, log: Logger): string | null {
  try {
    const text = readSecurityFile(path, code);
    for (const w of check(text).warnings) log.warn(w);
    log.info({ file: path }, `reload: ${what} loaded`);
    return text;
  } catch (err) {
    log.error({ file: path, code: (err as { code?: string }).code }, `reload: ${what} not loaded, the old one stays: ${(err as Error).message}`);
    return null;
  }
}

/** The config file's bridges, or null (and a log line saying why the old ones stay). */
function readBridgesAgain(file: string, log: Logger): BridgeConfig[] | null {
  try {
    const v = readConfigFile(file).layer.get('bridges')?.value;
    const list = (v ?? []) as BridgeConfig[];
    log.info({ file, bridges: list.map((b) => b.name) }, 'reload: bridges loaded');
    return list;
  } catch (err) {
    log.error({ file, code: (err as { code?: string }).code }, `reload: bridges not loaded, the old ones stay: ${(err as Error).message}`);
    return null;
  }
}

/** What one SIGHUP sends the shards (exported for the test of a bad file). */
export function reloadMessage(d: ReloadDeps): ControlToShard & { type: 'reload' } {
  const { config, log } = d;
  const passwordText = config.passwordFile === '' ? null
    : readChecked('password file', config.passwordFile, ErrorCode.PASSWORD_FILE_INVALID, (t) => parsePasswordFile(t, { allowPlaintext: config.allowPlaintextPasswords, source: config.passwordFile }), log);
  const aclText = config.aclFile === '' ? null : readChecked('ACL file', config.aclFile, ErrorCode.ACL_FILE_INVALID, (t) => Acl.parse(t, config.aclFile), log);
  let listeners: ShardListener[] | null = null;
  if (d.listeners.some((l) => l.transport === 'tls' || l.transport === 'wss')) {
    try {
      listeners = shardListenersOf(d.listeners, config.listeners.length);
      log.info('reload: TLS certificates and keys loaded');
    } catch (err) {
      log.error(`reload: TLS certificates not loaded, the old ones stay: ${(err as Error).message}`);
    }
  }
  const bridges = d.configFile === null ? null : readBridgesAgain(d.configFile, log);
  return { type: 'reload', passwordText, aclText, listeners, bridges };
}

/** Installs the SIGHUP handler (without one, SIGHUP ends the process). */
export function reloadOnSighup(d: ReloadDeps): void {
  process.on('SIGHUP', () => {
    d.log.info({ signal: 'SIGHUP' }, 'reloading password file, ACL file, TLS certificates and bridges');
    d.shards.reload(reloadMessage(d));
  });
}
