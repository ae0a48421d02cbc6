// bench:many --plot FILE.svg: connections held and the broker's RSS over the run, sampled once
// a second, so the ramp, the plateau and memory per connection can be seen rather than read.
import { document, esc, linePanel, PALETTE } from '../lib/svg.ts';
import type { SoakSample } from './sampler.ts';

export function renderManyPlot(title: string, samples: readonly SoakSample[]): string {
  const W = 420, H = 220, PAD = 80, GAP = 80;
  const xMax = samples.at(-1)?.atS ?? 0;
  const out: string[] = [`<text x="${PAD}" y="22" font-size="14" font-weight="600">${esc(title)}</text>`];
  linePanel(out, { x: PAD, y: 70, w: W, h: H }, 'Connections held', 'connections', samples.map((p) => [p.atS, p.held]), xMax, PALETTE[0]!);
  const rss = samples.filter((p) => p.rssBytes !== null).map((p): [number, number] => [p.atS, p.rssBytes! / 1048576]);
  linePanel(out, { x: PAD + W + GAP, y: 70, w: W, h: H }, rss.length > 0 ? 'Broker RSS' : 'Broker RSS (needs --broker-pid)', 'MiB', rss, xMax, PALETTE[1]!);
  return document(PAD + 2 * W + GAP + 30, H + 130, out);
}
