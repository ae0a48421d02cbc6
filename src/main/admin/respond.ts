// JSON answers of the admin port. Success is a bare JSON value (comqtt's REST shapes); an error
// is {"code", "message"} with a stable code from src/shared/errors.ts that callers match on.
import type { ServerResponse } from 'node:http';

export type Headers = Record<string, string>;

export function sendJson(res: ServerResponse, status: number, value: unknown, headers: Headers = {}): void {
  const body = JSON.stringify(value) + '\n';
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store', ...headers });
  res.end(body);
}

export function sendError(res: ServerResponse, status: number, code: string, message: string, headers: Headers = {}): void {
  sendJson(res, status, { code, message }, headers);
}
