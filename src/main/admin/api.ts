// The REST endpoints that need the shards' answers (comqtt's mqtt/rest paths and shapes, and
// issue #14's additions), over BrokerControl (src/main/control). A shard that does not answer
// in time leaves its part out, marked in X-Shoal-Partial / X-Shoal-Missing-Shards; when none
// answers, 503 SHOAL_HTTP_SHARDS_UNAVAILABLE.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ErrorCode } from '../../shared/errors.ts';
import { isSystemTopic, validateTopicName } from '../../shared/topics/validate.ts';
import { MAX_PAGE, type BrokerControl, type Partial } from '../control/index.ts';
import { sendError, sendJson } from './respond.ts';
import type { Route } from './server.ts';
import { partialHeaders } from './shard-query.ts';

const MAX_BODY_BYTES = 1024 * 1024;

class BadRequest extends Error {}

function send(res: ServerResponse, p: Partial<unknown>, value: unknown = p.value, status = 200): void {
  const headers = partialHeaders(p.missing);
  if (p.answered === 0 && p.missing.length > 0) {
    sendError(res, 503, ErrorCode.HTTP_SHARDS_UNAVAILABLE, `no shard answered (${p.missing.map((m) => `${m.shard}: ${m.reason}`).join(', ')})`, headers);
  } else if (status === 204) {
    res.writeHead(204, headers);
    res.end();
  } else sendJson(res, status, value, headers);
}

function notFound(res: ServerResponse, p: Partial<unknown>, code: string, message: string): void {
  if (p.answered === 0 && p.missing.length > 0) send(res, p);
  else sendError(res, 404, code, message, partialHeaders(p.missing));
}

function intParam(url: URL, name: string, dflt: number, max: number): number {
  const raw = url.searchParams.get(name);
  if (raw === null || raw === '') return dflt;
  if (!/^\d+$/.test(raw) || Number(raw) > max) throw new BadRequest(`${name} must be a whole number from 0 to ${max}`);
  return Number(raw);
}

/** offset/limit (issue #14) or comqtt's page/size, and `match` (or comqtt's `q`). */
function paging(url: URL): { offset: number; limit: number; match: string } {
  const size = intParam(url, 'size', 0, MAX_PAGE);
  const limit = intParam(url, 'limit', size || 100, MAX_PAGE);
  const page = intParam(url, 'page', 0, 1_000_000);
  const offset = intParam(url, 'offset', page > 0 ? (page - 1) * limit : 0, 1_000_000);
  return { offset, limit, match: url.searchParams.get('match') ?? url.searchParams.get('q') ?? '' };
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const c of req as AsyncIterable<Buffer>) {
    size += c.length;
    if (size > MAX_BODY_BYTES) throw new BadRequest(`body larger than ${MAX_BODY_BYTES} bytes`);
    chunks.push(c);
  }
  try { return JSON.parse(Buffer.concat(chunks).toString('utf8')); } catch { throw new BadRequest('body is not JSON'); }
}

interface PublishBody { topic_name: string; payload: string; retain: boolean; qos: 0 | 1 | 2 }

function publishBody(v: unknown): PublishBody {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new BadRequest('body must be a JSON object {"topic_name", "payload", "retain", "qos"}');
  const o = v as Record<string, unknown>;
  for (const k of Object.keys(o)) if (!['topic_name', 'payload', 'retain', 'qos'].includes(k)) throw new BadRequest(`unknown field ${JSON.stringify(k)}`);
  if (typeof o.topic_name !== 'string') throw new BadRequest('topic_name must be a string');
  const payload = o.payload ?? '';
  if (typeof payload !== 'string') throw new BadRequest('payload must be a string');
  const retain = o.retain ?? false;
  if (typeof retain !== 'boolean') throw new BadRequest('retain must be true or false');
  const qos = o.qos ?? 0;
  if (qos !== 0 && qos !== 1 && qos !== 2) throw new BadRequest('qos must be 0, 1 or 2');
  return { topic_name: o.topic_name, payload, retain, qos };
}

export function apiRoutes(control: BrokerControl): Route[] {
  // A BadRequest anywhere in a handler is the client's 400, never a 500.
  const guard = (h: Route['handler']): Route['handler'] => async (req, res, url, params) => {
    try { await h(req, res, url, params); } catch (err) {
      if (err instanceof BadRequest) sendError(res, 400, ErrorCode.HTTP_BAD_REQUEST, err.message);
      else throw err;
    }
  };
  const route = (method: Route['method'], path: string, h: Route['handler']): Route => ({ method, path, handler: guard(h) });
  const P = '/api/v1/mqtt';
  return [
    route('GET', '/api/v1/bridges', async (_q, res) => { send(res, await control.bridges()); }),
    route('GET', `${P}/clients`, async (_q, res, url) => {
      const { offset, limit, match } = paging(url);
      send(res, await control.clients(match, offset, limit));
    }),
    route('GET', `${P}/clients/{id}`, async (_q, res, _u, { id }) => {
      const p = await control.client(id!);
      if (p.value === null) notFound(res, p, ErrorCode.HTTP_CLIENT_NOT_FOUND, `no client ${JSON.stringify(id)}`);
      else send(res, p);
    }),
    route('DELETE', `${P}/clients/{id}`, async (_q, res, _u, { id }) => {
      const p = await control.kick(id!);
      if (!p.value) notFound(res, p, ErrorCode.HTTP_CLIENT_NOT_FOUND, `client ${JSON.stringify(id)} is not connected`);
      else send(res, p, id);
    }),
    route('DELETE', `${P}/clients/{id}/subscriptions/{topic}`, async (_q, res, _u, { id, topic }) => {
      const p = await control.unsubscribe(id!, topic!);
      if (p.value === 'no-client') notFound(res, p, ErrorCode.HTTP_CLIENT_NOT_FOUND, `no client ${JSON.stringify(id)}`);
      else if (p.value === 'no-subscription') notFound(res, p, ErrorCode.HTTP_SUBSCRIPTION_NOT_FOUND, `client ${JSON.stringify(id)} has no subscription ${JSON.stringify(topic)}`);
      else send(res, p, null, 204);
    }),
    route('GET', `${P}/subscriptions`, async (_q, res, url) => {
      const { offset, limit, match } = paging(url);
      send(res, await control.subscriptions(url.searchParams.get('topic') ?? match, url.searchParams.get('clientid') ?? '', offset, limit));
    }),
    route('GET', `${P}/topics`, async (_q, res) => { send(res, await control.topics()); }),
    route('GET', `${P}/blacklist`, async (_q, res) => { send(res, await control.banned()); }),
    route('POST', `${P}/blacklist/{id}`, async (_q, res, _u, { id }) => { send(res, await control.ban(id!, true), id); }),
    route('DELETE', `${P}/blacklist/{id}`, async (_q, res, _u, { id }) => {
      const p = await control.ban(id!, false);
      if (!p.value) notFound(res, p, ErrorCode.HTTP_NOT_BANNED, `client id ${JSON.stringify(id)} is not on the blacklist`);
      else send(res, p, id);
    }),
    route('POST', `${P}/message`, async (req, res) => {
      const m = publishBody(await readJson(req));
      const bad = validateTopicName(m.topic_name);
      if (bad !== null) { sendError(res, 400, ErrorCode.HTTP_BAD_TOPIC, `topic_name: ${bad}`); return; }
      if (isSystemTopic(m.topic_name)) { sendError(res, 400, ErrorCode.HTTP_BAD_TOPIC, 'topic_name: topics starting with $ are the broker\'s own'); return; }
      let p: Partial<boolean>;
      try {
        p = await control.publish(m.topic_name, m.payload, m.qos, m.retain);
      } catch (err) {
        sendError(res, 500, ErrorCode.HTTP_PUBLISH_FAILED, (err as Error).message);
        return;
      }
      if (p.answered === 0 && p.missing.some((x) => x.reason === 'error')) sendError(res, 500, ErrorCode.HTTP_PUBLISH_FAILED, `not committed: ${p.missing.map((x) => x.message ?? x.reason).join(', ')}`);
      else send(res, p, m);
    }),
    route('GET', `${P}/retained`, async (_q, res, url) => {
      const { offset, limit, match } = paging(url);
      send(res, await control.retained(url.searchParams.get('topic') ?? match, offset, limit));
    }),
    route('DELETE', `${P}/retained/{topic}`, async (_q, res, _u, { topic }) => {
      const p = await control.clearRetained(topic!);
      if (!p.value) notFound(res, p, ErrorCode.HTTP_RETAINED_NOT_FOUND, `no retained message on ${JSON.stringify(topic)}`);
      else send(res, p, null, 204);
    }),
  ];
}
