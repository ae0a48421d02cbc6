// Number formatting for tables: enough digits to compare, not more than the noise allows.

const DASH = '—';

export function fmtInt(x: number | null): string {
  return x === null ? DASH : Math.round(x).toLocaleString('en-US');
}

/** three significant digits, for latencies */
export function fmtSig(x: number | null): string {
  if (x === null) return DASH;
  if (x === 0) return '0';
  return x >= 1000 ? fmtInt(x) : Number(x.toPrecision(3)).toString();
}

export function fmtFixed(x: number | null, digits: number): string {
  return x === null ? DASH : x.toFixed(digits);
}

export function fmtMiB(bytes: number | null): string {
  return bytes === null ? DASH : (bytes / (1024 * 1024)).toFixed(1);
}

export function fmtRatio(x: number | null): string {
  return x === null ? DASH : `${x.toFixed(2)}×`;
}

export function fmtKiB(bytes: number | null): string {
  return bytes === null ? DASH : (bytes / 1024).toFixed(1);
}
