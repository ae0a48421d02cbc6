// Bearer-token access to the admin port (--http-token / SHOAL_HTTP_TOKEN).
import { createHash, timingSafeEqual } from 'node:crypto';

/** Decides a request by its Authorization header. */
export type Authorizer = (authorization: string | undefined) => boolean;

// Both sides are hashed first: timingSafeEqual needs equal lengths, and comparing digests
// tells an attacker neither the token's bytes nor its length through timing.
function digest(s: string): Buffer { return createHash('sha256').update(s, 'utf8').digest(); }

const BEARER = /^Bearer +(\S+) *$/i;

/** No token configured: every request passes (the port listens on 127.0.0.1 by default). */
export function bearerAuth(token: string): Authorizer {
  if (token === '') return () => true;
  const want = digest(token);
  return (authorization) => {
    const m = authorization === undefined ? null : BEARER.exec(authorization);
    return m !== null && timingSafeEqual(digest(m[1]!), want);
  };
}
