// A Prometheus stand-in for bench:compare's `shoal-scraped`: GET /metrics every second while the
// workload runs, the body read and thrown away, so the comparison with `shoal` in the same run
// shows what the admin port and its scrapes cost the broker.
import http from 'node:http';

export interface Scraper {
  /** scrapes answered 200 so far, and those that failed */
  readonly ok: number;
  readonly failed: number;
  stop(): void;
}

export function startScraper(url: string, everyMs = 1000): Scraper {
  const s = { ok: 0, failed: 0 };
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 }); // one connection, as Prometheus keeps
  const once = (): void => {
    const req = http.get(url, { agent, timeout: Math.max(everyMs, 1000) }, (res) => {
      res.resume();
      res.on('end', () => { if (res.statusCode === 200) s.ok++; else s.failed++; });
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => { s.failed++; });
  };
  const timer = setInterval(once, everyMs);
  timer.unref();
  return {
    get ok() { return s.ok; },
    get failed() { return s.failed; },
    stop: () => { clearInterval(timer); agent.destroy(); },
  };
}
