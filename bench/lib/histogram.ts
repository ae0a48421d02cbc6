// Latency recording: integer microseconds in an HDR histogram (3 significant digits),
// reported in milliseconds with µs precision. Threads ship their histogram to the main
// thread in hdr's compressed base64 form and the main thread adds them up.
import * as hdr from 'hdr-histogram-js';

export interface LatencySummary {
  unit: 'ms';
  count: number;
  min: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
  mean: number;
}

const HIGHEST_US = 3_600_000_000; // one hour

export class LatencyRecorder {
  readonly histogram: hdr.Histogram;

  constructor() {
    this.histogram = hdr.build({
      lowestDiscernibleValue: 1,
      highestTrackableValue: HIGHEST_US,
      numberOfSignificantValueDigits: 3,
      bitBucketSize: 32,
    });
  }

  /** Records one latency given in milliseconds. */
  recordMs(ms: number): void {
    const us = Math.round(ms * 1000);
    this.histogram.recordValue(us < 1 ? 1 : us > HIGHEST_US ? HIGHEST_US : us);
  }

  encode(): string {
    return hdr.encodeIntoCompressedBase64(this.histogram);
  }

  addEncoded(encoded: string): void {
    const other = hdr.decodeFromCompressedBase64(encoded, 32);
    this.histogram.add(other);
  }

  summary(): LatencySummary {
    return summarize(this.histogram);
  }

  /** Standard deviation in ms: the seed printed it; the JSON contract has no slot for it. */
  stddevMs(): number {
    return this.histogram.totalCount === 0 ? 0 : Math.round(this.histogram.stdDeviation) / 1000;
  }
}

export function summarize(h: hdr.Histogram): LatencySummary {
  const ms = (us: number): number => Math.round(us) / 1000;
  if (h.totalCount === 0) return { unit: 'ms', count: 0, min: 0, p50: 0, p90: 0, p99: 0, p999: 0, max: 0, mean: 0 };
  return {
    unit: 'ms',
    count: h.totalCount,
    min: ms(h.minNonZeroValue),
    p50: ms(h.getValueAtPercentile(50)),
    p90: ms(h.getValueAtPercentile(90)),
    p99: ms(h.getValueAtPercentile(99)),
    p999: ms(h.getValueAtPercentile(99.9)),
    max: ms(h.maxValue),
    mean: ms(h.mean),
  };
}
