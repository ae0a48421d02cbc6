// The burst's clients, in a process of their own (started at lower priority by index.ts, so on
// a 2-core machine they compete with the broker the way remote clients would not): open COUNT
// sockets at once, send each the same CONNECT, count CONNACKs with return code 0. Prints one
// JSON line {ok, ms} and exits. Plain JavaScript: nothing to strip, starts fast.
import net from 'node:net';

const [port, count, packetHex] = process.argv.slice(2);
const packet = Buffer.from(packetHex, 'hex');
const n = Number(count);
let done = 0, ok = 0;
const sockets = [];
// Wait for the go line on stdin, so the process's own start-up is not inside the burst.
process.stdin.once('data', () => {
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    const s = net.connect({ host: '127.0.0.1', port: Number(port) }, () => s.write(packet));
    sockets.push(s);
    let finished = false;
    const finish = (accepted) => {
      if (finished) return;
      finished = true;
      done++;
      if (accepted) ok++;
      if (done === n) {
        // The clients stay connected (as a real burst's would) until the parent closes stdin.
        process.stdout.write(JSON.stringify({ ok, ms: Math.round(performance.now() - t0) }) + '\n');
      }
    };
    s.on('data', () => {});
    // CONNACK is 4 bytes (3.1.1); the first read holds it.
    s.once('data', (d) => finish(d[0] === 0x20 && d[3] === 0));
    s.on('error', () => finish(false));
    s.on('close', () => finish(false));
  }
});
process.stdin.on('end', () => { for (const x of sockets) x.destroy(); process.exit(0); });
