// The probe pair: a pinger publishes one QoS 1 message at a time on <prefix>/probe/req, a
// replier echoes it on <prefix>/probe/rep, and the round trip is timed. A round trip that
// has not completed after the deadline counts as missed and the next probe goes out: the
// issue's "a probe client missed its 2 s deadline 2 times in 12". Both topics match `#`, so
// the probes share the stalled subscribers' fate exactly as the data does.
import type { LeanClient } from '../lib/client.ts';
import { LatencyRecorder } from '../lib/histogram.ts';
import { PublishTemplate, type ProtocolLevel } from '../lib/packets.ts';
import { HEADER_SIZE, SEQ_OFFSET, TIME_OFFSET, makePayload } from '../lib/payload.ts';
import { nowMs } from '../lib/clock.ts';

export interface ProbeReport {
  sent: number;
  answered: number;
  /** Probes without an answer within the deadline (late answers are not timed). */
  missedDeadline: number;
  deadlineMs: number;
}

export class Probe {
  readonly rtt = new LatencyRecorder();
  private readonly pinger: LeanClient;
  private readonly req: PublishTemplate;
  private readonly deadlineMs: number;
  private readonly intervalMs: number;
  private timer: NodeJS.Timeout | null = null;
  private outstanding = -1;
  private sentAtMs = 0;
  private sent = 0;
  private answered = 0;
  private missed = 0;

  constructor(pinger: LeanClient, replier: LeanClient, prefix: string, level: ProtocolLevel, o: { deadlineMs: number; intervalMs: number; publisherId: number }) {
    this.pinger = pinger;
    this.deadlineMs = o.deadlineMs;
    this.intervalMs = o.intervalMs;
    this.req = new PublishTemplate(`${prefix}/probe/req`, makePayload(HEADER_SIZE, o.publisherId, ''), 1, level);
    const rep = new PublishTemplate(`${prefix}/probe/rep`, makePayload(HEADER_SIZE, o.publisherId + 1, ''), 1, level);
    replier.onMessage = (buf, off, len) => {
      if (len >= HEADER_SIZE) replier.publishOne(rep, buf.readUInt32BE(off + SEQ_OFFSET), buf.readDoubleBE(off + TIME_OFFSET));
    };
    pinger.onMessage = (buf, off, len) => {
      if (len < HEADER_SIZE || buf.readUInt32BE(off + SEQ_OFFSET) !== this.outstanding) return;
      this.rtt.recordMs(pinger.chunkTimeMs - buf.readDoubleBE(off + TIME_OFFSET));
      this.answered++;
      this.outstanding = -1;
    };
  }

  start(): void {
    this.tick();
    this.timer = setInterval(() => this.tick(), this.intervalMs);
  }

  stop(): ProbeReport {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    // One still outstanding past its deadline is a miss; one younger is not judged.
    if (this.outstanding >= 0 && nowMs() - this.sentAtMs > this.deadlineMs) this.missed++;
    this.outstanding = -1;
    return { sent: this.sent, answered: this.answered, missedDeadline: this.missed, deadlineMs: this.deadlineMs };
  }

  private tick(): void {
    const now = nowMs();
    if (this.outstanding >= 0) {
      if (now - this.sentAtMs <= this.deadlineMs) return;
      this.missed++;
      this.outstanding = -1;
    }
    const seq = this.sent;
    if (!this.pinger.publishOne(this.req, seq, now)) return;
    this.sent++;
    this.outstanding = seq;
    this.sentAtMs = now;
  }
}
