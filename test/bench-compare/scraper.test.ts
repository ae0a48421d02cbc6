// bench:compare's `shoal-scraped`: Shoal with its admin port on and /metrics scraped every
// second while the workload runs (the scrape cost side by side with `shoal`).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { startScraper } from '../../bench/brokers/scraper.ts';
import { shoalScraped } from '../../bench/brokers/shoal.ts';

test('the scraper GETs the URL every interval over one kept-alive connection, counting answers', async () => {
  const sockets = new Set<unknown>();
  let hits = 0;
  const server = http.createServer((req, res) => {
    sockets.add(req.socket);
    hits++;
    res.statusCode = req.url === '/metrics' ? 200 : 404;
    res.end('x 1\n');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const ok = startScraper(`${base}/metrics`, 150);
  const bad = startScraper(`${base}/other`, 150);
  for (let waited = 0; (ok.ok < 3 || bad.failed < 3) && waited < 10_000; waited += 50) await new Promise((r) => setTimeout(r, 50));
  ok.stop();
  bad.stop();
  await new Promise((r) => setTimeout(r, 300)); // a scrape in flight at stop() may still land
  const seen = hits;
  await new Promise((r) => setTimeout(r, 400));
  server.close();
  assert.ok(ok.ok >= 3 && ok.failed === 0, `ok ${ok.ok} failed ${ok.failed}`);
  assert.ok(bad.failed >= 3 && bad.ok === 0, `ok ${bad.ok} failed ${bad.failed}`);
  assert.equal(sockets.size, 2, 'one connection per scraper');
  assert.equal(hits, seen, 'no scrape after stop()');
});

test('shoal-scraped starts Shoal with the admin port on and stops it', { timeout: 30_000 }, async () => {
  assert.equal(shoalScraped.optIn, true);
  const broker = await shoalScraped.start({ shards: 1 });
  try {
    assert.match(broker.output(), /listening on mqtt:\/\/127\.0\.0\.1:\d+, http:\/\/127\.0\.0\.1:\d+/);
    assert.equal(broker.died(), null);
  } finally {
    await broker.stop();
  }
});
