// Sends one input over a fresh TCP connection: the CONNECT (waiting for the answer when
// asked), each chunk as its own write, then lingers briefly so the broker acts on it, and
// closes abruptly. What the broker answers does not matter here (the fixture tests judge
// answers); that it survives, keeps serving and stays bounded is the checker's job.
import net from 'node:net';
import type { FuzzInput } from './inputs.ts';

export interface SendOutcome {
  /** The connection could not be made: the broker stopped accepting. */
  refused: boolean;
  closedByBroker: boolean;
}

const CONNECT_TIMEOUT_MS = 3000;
const CONNACK_WAIT_MS = 500;

export function send(port: number, input: FuzzInput, lingerMs: number): Promise<SendOutcome> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port, noDelay: true });
    let connected = false;
    let closed = false;
    let done = false;
    let onFirstData: (() => void) | null = null;
    const finish = (): void => {
      if (done) return;
      done = true;
      clearTimeout(guard);
      socket.destroy();
      resolve({ refused: !connected, closedByBroker: closed });
    };
    const guard = setTimeout(finish, CONNECT_TIMEOUT_MS + CONNACK_WAIT_MS + lingerMs + 1000);
    socket.on('error', () => { /* resets and broken pipes are expected answers to garbage */ });
    socket.on('data', () => { const f = onFirstData; onFirstData = null; f?.(); });
    socket.on('close', () => {
      closed = true;
      const f = onFirstData;
      onFirstData = null;
      f?.();
      finish();
    });
    socket.setTimeout(CONNECT_TIMEOUT_MS, () => { if (!connected) finish(); });
    socket.once('connect', () => {
      connected = true;
      socket.setTimeout(0);
      void (async () => {
        if (input.connect !== null) {
          socket.write(input.connect);
          if (input.waitConnack) {
            await new Promise<void>((r) => {
              const t = setTimeout(() => { onFirstData = null; r(); }, CONNACK_WAIT_MS);
              onFirstData = () => { clearTimeout(t); r(); };
            });
          }
        }
        for (const c of input.chunks) {
          if (closed) break;
          socket.write(c);
          await new Promise((r) => setImmediate(r));
        }
        setTimeout(finish, lingerMs);
      })();
    });
  });
}

/** Sends inputs with at most `concurrency` connections at once. */
export async function sendAll(port: number, inputs: FuzzInput[], concurrency: number, lingerMs: number): Promise<SendOutcome[]> {
  const out: SendOutcome[] = new Array(inputs.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < inputs.length) {
      const i = next++;
      out[i] = await send(port, inputs[i]!, lingerMs);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, inputs.length) }, worker));
  return out;
}
