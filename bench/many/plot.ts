// bench:many --plot FILE.svg: connections held and the broker's RSS over the run, sampled once
// a second, so the ramp, the plateau and memory per connection can be seen rather than read.
import { document, esc, linePanel, PALETTE } from '../lib/svg.ts';

export interface ManySample { s: number; held: number; failed: number; rssBytes: number | null }

export function renderManyPlot(title: string, samples: readonly ManySample[]): string {
  const W = 420, H = 220, PAD = 80, GAP = 80;
  const xMax = samples.at(-1)?.s ?? 0;
  const out: string[] = [`<text x="${PAD}" y="22" font-size="14" font-weight="600">${esc(title)}</text>`];
  linePanel(out, { x: PAD, y: 70, w: W, h: H }, 'Connections held', 'connections', samples.map((p) => [p.s, p.held]), xMax, PALETTE[0]!);
  const rss = samples.filter((p) => p.rssBytes !== null).map((p): [number, number] => [p.s, p.rssBytes! / 1048576]);
  linePanel(out, { x: PAD + W + GAP, y: 70, w: W, h: H }, rss.length > 0 ? 'Broker RSS' : 'Broker RSS (needs --broker-pid)', 'MiB', rss, xMax, PALETTE[1]!);
  return document(PAD + 2 * W + GAP + 30, H + 130, out);
}
