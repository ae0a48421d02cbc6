// Small hand-written SVG charts for the bench tools (--plot FILE.svg): panels with an axis,
// points, ranges and lines. No dependency: a chart is a few hundred elements of text.

export const PALETTE = ['#1f6feb', '#d9480f', '#2b8a3e', '#862e9c', '#e67700', '#0b7285', '#c2255c', '#5c940d'];

export const esc = (s: string): string => s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);

/** 1, 2, 5 × 10^k steps for an axis from 0 to at least `max`. */
export function niceTicks(max: number, count = 5): number[] {
  if (!(max > 0)) return [0, 1];
  const raw = max / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw)!;
  const out: number[] = [];
  for (let v = 0; v <= max + step * 0.999; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

export function shortNumber(n: number): string {
  const a = Math.abs(n);
  if (a >= 1e9) return `${+(n / 1e9).toFixed(1)}G`;
  if (a >= 1e6) return `${+(n / 1e6).toFixed(1)}M`;
  if (a >= 1e3) return `${+(n / 1e3).toFixed(1)}k`;
  return String(+n.toFixed(2));
}

export interface Box { x: number; y: number; w: number; h: number }

/** A panel: title, y axis from 0 to the top tick with grid lines; returns the y scale and the ticks' top. */
export function panel(out: string[], box: Box, title: string, yMax: number, yLabel: string): { y: (v: number) => number; top: number } {
  const ticks = niceTicks(yMax);
  const top = ticks.at(-1)!;
  const y = (v: number): number => box.y + box.h - (v / top) * box.h;
  out.push(`<text x="${box.x}" y="${box.y - 12}" font-weight="600">${esc(title)}</text>`);
  out.push(`<text x="${box.x - 50}" y="${box.y + box.h / 2}" transform="rotate(-90 ${box.x - 50} ${box.y + box.h / 2})" text-anchor="middle" fill="#555">${esc(yLabel)}</text>`);
  for (const t of ticks) {
    out.push(`<line x1="${box.x}" x2="${box.x + box.w}" y1="${y(t)}" y2="${y(t)}" stroke="#e5e7eb"/>`);
    out.push(`<text x="${box.x - 6}" y="${y(t) + 4}" text-anchor="end" fill="#555">${shortNumber(t)}</text>`);
  }
  out.push(`<line x1="${box.x}" x2="${box.x + box.w}" y1="${box.y + box.h}" y2="${box.y + box.h}" stroke="#999"/>`);
  return { y, top };
}

export function document(width: number, height: number, body: string[]): string {
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, sans-serif" font-size="12">\n`
    + `<rect width="100%" height="100%" fill="#fff"/>\n${body.join('\n')}\n</svg>\n`;
}

/** A line over time in a panel: x in seconds from 0 to `xMax`. */
export function linePanel(out: string[], box: Box, title: string, yLabel: string, points: [number, number][], xMax: number, color: string): void {
  const yMax = Math.max(1e-9, ...points.map((p) => p[1]));
  const { y } = panel(out, box, title, yMax, yLabel);
  const x = (s: number): number => box.x + (xMax > 0 ? (s / xMax) * box.w : 0);
  for (const t of niceTicks(xMax, 6)) {
    if (t > xMax) break;
    out.push(`<text x="${x(t)}" y="${box.y + box.h + 16}" text-anchor="middle" fill="#555">${shortNumber(t)} s</text>`);
  }
  if (points.length > 0) out.push(`<polyline fill="none" stroke="${color}" stroke-width="2" points="${points.map(([s, v]) => `${x(s).toFixed(1)},${y(v).toFixed(1)}`).join(' ')}"/>`);
}
