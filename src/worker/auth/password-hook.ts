// The --password-file as a hook of the registry (comqtt's shape: the file is one
// onConnectAuthenticate among the stack's, asked first; docs/hooks.md, "Order"). The checking
// itself stays in PasswordFileAuth (hashing pool, failed-login delays, SIGHUP's replace());
// this turns its outcome into a verdict: true, or the CONNACK reason code it refused with
// (0x86 bad user name or password, 0x87 no user name, 0x89 hashing queue full).
import { Reason } from '../../shared/protocol/reason-codes.ts';
import type { Hook, HookClient, Maybe, Verdict } from '../hooks/hook.ts';
import type { AuthOutcome, AuthRequest } from './hook.ts';
import type { PasswordFileAuth } from './password-auth.ts';

export class PasswordFileHook implements Hook {
  readonly file: PasswordFileAuth;

  constructor(file: PasswordFileAuth) { this.file = file; }

  onConnectAuthenticate(client: HookClient, password: Buffer | undefined): Maybe<Verdict> {
    const o = this.file.check(new Login(client, password));
    return o instanceof Promise ? o.then(verdict) : verdict(o as AuthOutcome);
  }
}

function verdict(o: AuthOutcome): Verdict { return o.reason === Reason.SUCCESS ? true : o.reason; }

/** The request PasswordFileAuth reads; the address only when it is read (a getpeername() behind the hook client). */
class Login implements AuthRequest {
  readonly clientId: string;
  readonly username: string | undefined;
  readonly password: Buffer | undefined;
  readonly version: number;
  readonly #client: HookClient;
  constructor(client: HookClient, password: Buffer | undefined) {
    this.#client = client;
    this.clientId = client.clientId;
    this.username = client.username;
    this.password = password;
    this.version = client.protocolVersion;
  }
  get remote(): string { return this.#client.address; }
}
