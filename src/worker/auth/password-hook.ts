// The --password-file as a hook of the registry (comqtt's shape: the file is one
// onConnectAuthenticate among the stack's, asked first; docs/hooks.md, "Order"), and the server
// of its SCRAM-SHA-256 lines' enhanced authentication. The checking itself stays in
// PasswordFileAuth (hashing pool, failed-login delays, SIGHUP's replace()); the adapter turns
// its outcomes into verdicts: true, or the CONNACK reason code it refused with (0x86 bad user
// name or password, 0x87 no user name, 0x89 hashing queue full). Its promises are bounded by
// the file (the delays are the point): the hook timeout does not cut them.
import { AuthHookAdapter } from './hook-adapter.ts';
import type { PasswordFileAuth } from './password-auth.ts';

export class PasswordFileHook extends AuthHookAdapter {
  readonly file: PasswordFileAuth;

  constructor(file: PasswordFileAuth) {
    super(file, true);
    this.file = file;
  }
}
