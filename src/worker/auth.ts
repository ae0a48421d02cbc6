import { Reason } from '../shared/protocol/reason-codes.ts';

export interface AuthRequest { clientId: string; username: string | undefined; password: Buffer | undefined; remote: string }

/**
 * The authentication hook. The default allows everyone (like Mosquitto without a password
 * file); deployments replace `check`. Returns a v5 CONNACK reason code (0 = allowed).
 */
export class AuthHook {
  check(_req: AuthRequest): number { return Reason.SUCCESS; }
  supportsMethod(_method: string): boolean { return false; }
}
