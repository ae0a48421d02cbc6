// Frames and the order check shared by the two-rings tests (not a test file).
//
// Every frame says what it must not overtake or be overtaken by: [u8 kind][u32 its number among
// its kind][u32 how many frames of the other kind were sent before it][u8 check]..., filled to its
// length with a pattern of its number. The checker holds pair.ts's two rules:
//   (1) a control frame is handled after every data frame sent before it, unless it was handled
//       while the data ring was held (then it may pass; counted as `passed`);
//   (2) a data frame is handled after every control frame sent before it, always.
import type { PairReceiver, PairSender } from '../../src/shared/ring/pair.ts';

export const DATA = 1;
export const CONTROL = 2;
const HEAD = 9;

/** Encodes frames into one scratch buffer and sends them, counting both kinds. */
export class OrderedSender {
  data = 0;
  control = 0;
  private scratch = Buffer.alloc(1 << 20);
  readonly tx: PairSender;
  constructor(tx: PairSender) { this.tx = tx; }

  send(kind: number, length: number): void {
    const len = Math.max(HEAD, length);
    if (this.scratch.length < len) this.scratch = Buffer.alloc(len);
    const b = this.scratch;
    const n = kind === DATA ? this.data++ : this.control++;
    b[0] = kind;
    b.writeUInt32LE(n >>> 0, 1);
    b.writeUInt32LE((kind === DATA ? this.control : this.data) >>> 0, 5);
    const fill = (n * 31 + kind) & 0xff;
    b.fill(fill, HEAD, len);
    if (kind === DATA) this.tx.sendData(b, 0, len); else this.tx.sendControl(b, 0, len);
  }
}

export class OrderChecker {
  data = 0;
  control = 0;
  /** Control frames that passed data sent before them, while the data ring was held. */
  passed = 0;
  /** Set by drain() around a drain in which the data ring is said to be held. */
  held = false;
  /**
   * A fragmented control frame is passed or not when its first fragment is read: for the one
   * in progress across drains, whether that drain was held (null: none in progress).
   */
  private partialHeld: boolean | null = null;
  private firstHeld: boolean | null = null;
  readonly errors: string[] = [];
  readonly order: string[] | null;

  constructor(keepOrder = false) { this.order = keepOrder ? [] : null; }

  /** rx.drain, with the held state each control frame was judged under kept for the check. */
  drain(rx: PairReceiver, held: boolean, budget: number): number {
    const wasPartial = rx.control.reassembling;
    const before = rx.control.frames;
    this.held = held;
    this.firstHeld = wasPartial ? this.partialHeld : null;
    try {
      return rx.drain(budget, () => held);
    } finally {
      this.held = false;
      this.firstHeld = null;
      if (rx.control.reassembling && (!wasPartial || rx.control.frames !== before)) this.partialHeld = held;
      else if (!rx.control.reassembling) this.partialHeld = null;
    }
  }

  readonly onData = (buf: Uint8Array, off: number, len: number): void => this.check(DATA, buf, off, len);
  readonly onControl = (buf: Uint8Array, off: number, len: number): void => this.check(CONTROL, buf, off, len);

  private check(kind: number, buf: Uint8Array, off: number, len: number): void {
    const b = Buffer.from(buf.buffer, buf.byteOffset + off, len);
    const mine = kind === DATA ? this.data : this.control;
    const other = kind === DATA ? this.control : this.data;
    const name = kind === DATA ? 'data' : 'control';
    if (len < HEAD || b[0] !== kind) return this.fail(`${name} frame ${mine}: kind ${b[0]} or length ${len} wrong`);
    const n = b.readUInt32LE(1);
    const before = b.readUInt32LE(5);
    if (n !== mine) return this.fail(`${name} frame ${n} arrived as number ${mine} (lost, duplicated or reordered in its ring)`);
    const fill = (n * 31 + kind) & 0xff;
    if ((len > HEAD && b[HEAD] !== fill) || b[len - 1] !== (len > HEAD ? fill : b[len - 1])) return this.fail(`${name} frame ${n}: corrupted`);
    let held = this.held;
    if (kind === CONTROL && this.firstHeld !== null) { held = this.firstHeld; this.firstHeld = null; }
    if (other < before) {
      if (kind === DATA) this.fail(`rule 2: data frame ${n} handled before control frame ${other}, which was sent before it`);
      else if (held) this.passed++;
      else this.fail(`rule 1: control frame ${n} handled before data frame ${other}, which was sent before it (ring not held)`);
    }
    this.order?.push(`${kind === DATA ? 'D' : 'C'}${n}`);
    if (kind === DATA) this.data++; else this.control++;
  }

  private fail(what: string): void {
    if (this.errors.length < 10) this.errors.push(what);
  }
}
