// Read a password from stdin the way mosquitto_passwd's get_password() does: print the prompt,
// read one line with echo off when stdin is a terminal (plain lines from a pipe otherwise),
// then print the newline the user's Enter did not echo. Ctrl-C restores the terminal and exits 0
// (mosquitto_passwd's SIGINT handler does the same).
import type { Readable, Writable } from 'node:stream';
import type { ReadStream } from 'node:tty';

export interface PromptIo { stdin: Readable; stdout: Writable }

/** Lines of a non-terminal stdin, one at a time (a pipe may hold both answers in one chunk). */
class LineReader {
  private buf = '';
  private ended = false;
  private waiting: (() => void) | null = null;
  private readonly stream: Readable;

  constructor(stream: Readable) {
    this.stream = stream;
    stream.setEncoding('utf8');
    stream.on('data', (d: string) => { this.buf += d; this.wake(); });
    stream.on('end', () => { this.ended = true; this.wake(); });
    stream.on('error', () => { this.ended = true; this.wake(); });
  }

  private wake(): void { const w = this.waiting; this.waiting = null; w?.(); }

  async line(): Promise<string | null> {
    for (;;) {
      const nl = this.buf.indexOf('\n');
      if (nl >= 0) {
        const l = this.buf.slice(0, nl);
        this.buf = this.buf.slice(nl + 1);
        return l;
      }
      if (this.ended) {
        if (this.buf === '') return null;
        const l = this.buf;
        this.buf = '';
        return l;
      }
      await new Promise<void>((res) => { this.waiting = res; });
    }
  }

  close(): void { this.stream.pause(); this.stream.removeAllListeners('data'); }
}

function readTtyLine(tty: ReadStream, out: Writable, prompt: string): Promise<string | null> {
  return new Promise((res) => {
    let line = '';
    // echo off before the prompt shows: a user (or a test) typing right after it must not be echoed
    tty.setRawMode(true);
    out.write(prompt);
    tty.setEncoding('utf8');
    const done = (v: string | null) => { tty.off('data', onData); tty.setRawMode(false); tty.pause(); res(v); };
    const onData = (chunk: string) => {
      for (const ch of chunk) {
        if (ch === '\r' || ch === '\n') return done(line);
        if (ch === '\u0003') { tty.setRawMode(false); process.exit(0); }
        if (ch === '\u0004') return done(line === '' ? null : line);
        if (ch === '\u007f' || ch === '\b') { line = line.slice(0, -1); continue; }
        line += ch;
      }
    };
    tty.on('data', onData);
    tty.resume();
  });
}

/** Asks twice; the password, or the exit code and message mosquitto_passwd gives (1 empty, 2 mismatch). */
export async function askPassword(io: PromptIo): Promise<string | { code: number; message: string }> {
  const tty = (io.stdin as ReadStream).isTTY === true ? io.stdin as ReadStream : null;
  const reader = tty === null ? new LineReader(io.stdin) : null;
  const read = (prompt: string) => {
    if (tty !== null) return readTtyLine(tty, io.stdout, prompt);
    io.stdout.write(prompt);
    return reader!.line();
  };
  try {
    const answers: string[] = [];
    for (const prompt of ['Password: ', 'Reenter password: ']) {
      const pw = await read(prompt);
      if (pw === null || pw === '') return { code: 1, message: 'Error: Empty password.' };
      io.stdout.write('\n');
      answers.push(pw);
    }
    if (answers[0] !== answers[1]) return { code: 2, message: 'Error: Passwords do not match.' };
    return answers[0]!;
  } finally {
    reader?.close();
  }
}
