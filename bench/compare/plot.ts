// bench:compare --plot FILE.svg: per broker, the message rate and the broker's CPU seconds of
// every round (dots), their median (bar) and their spread (min–max line), so the noise
// between rounds is as visible as the difference between brokers.
import { document, esc, panel, PALETTE, type Box } from '../lib/svg.ts';
import { median } from './stats.ts';
import type { Comparison } from './types.ts';

interface Metric { title: string; unit: string; of: (r: Comparison['runs'][number]) => number | null }

const METRICS: Metric[] = [
  { title: 'Message rate per round', unit: 'msg/s', of: (r) => r.figures?.rate ?? null },
  { title: 'Broker CPU per round', unit: 'CPU seconds', of: (r) => r.brokerCpuSeconds },
];

export function renderPlot(c: Comparison): string {
  const W = 360, H = 240, PAD = 80, GAP = 70;
  const width = PAD + METRICS.length * (W + GAP);
  const height = H + 150;
  const out: string[] = [];
  out.push(`<text x="${PAD}" y="22" font-size="14" font-weight="600">${esc(`bench:compare ${c.workload} ${c.toolArgs.join(' ')}`)}</text>`);
  out.push(`<text x="${PAD}" y="40" fill="#555">${esc(`${c.rounds} rounds, ${c.shards} shards, load ${c.env.loadAvg1} at start, ${c.env.cpu} × ${c.env.cores}, ${c.env.time}`)}</text>`);
  METRICS.forEach((m, k) => {
    const box: Box = { x: PAD + k * (W + GAP), y: 80, w: W, h: H };
    const per = c.brokers.map((b) => c.runs.filter((r) => r.broker === b && r.ok).map(m.of).filter((v): v is number => v !== null));
    const max = Math.max(1e-9, ...per.flat());
    const { y } = panel(out, box, m.title, max, m.unit);
    const slot = box.w / c.brokers.length;
    c.brokers.forEach((b, i) => {
      const vals = per[i]!;
      const cx = box.x + slot * (i + 0.5);
      const color = PALETTE[i % PALETTE.length]!;
      if (vals.length > 0) {
        const med = median(vals)!;
        out.push(`<rect x="${cx - slot * 0.25}" y="${y(med)}" width="${slot * 0.5}" height="${box.y + box.h - y(med)}" fill="${color}" fill-opacity="0.25" stroke="${color}"/>`);
        out.push(`<line x1="${cx}" x2="${cx}" y1="${y(Math.min(...vals))}" y2="${y(Math.max(...vals))}" stroke="${color}" stroke-width="2"/>`);
        for (const [j, v] of vals.entries()) out.push(`<circle cx="${cx - slot * 0.15 + (vals.length > 1 ? (j / (vals.length - 1)) * slot * 0.3 : slot * 0.15)}" cy="${y(v)}" r="3.5" fill="${color}"><title>${esc(`${b} round ${j + 1}: ${v}`)}</title></circle>`);
        out.push(`<text x="${cx}" y="${y(med) - 6}" text-anchor="middle">${esc(Intl.NumberFormat('en', { maximumSignificantDigits: 3 }).format(med))}</text>`);
      }
      out.push(`<text x="${cx}" y="${box.y + box.h + 18}" text-anchor="middle">${esc(b)}</text>`);
      out.push(`<text x="${cx}" y="${box.y + box.h + 34}" text-anchor="middle" fill="#555">${vals.length} ok of ${c.runs.filter((r) => r.broker === b).length}</text>`);
    });
  });
  out.push(`<text x="${PAD}" y="${height - 14}" fill="#555">bar: median over the rounds; line: lowest to highest; dots: each round that counted</text>`);
  return document(width, height, out);
}
