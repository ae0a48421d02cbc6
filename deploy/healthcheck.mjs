#!/usr/bin/env node
// Container health check (HEALTHCHECK): exit 0 when the broker answers, 1 otherwise, within 4 s.
// With the admin HTTP port set (SHOAL_HTTP_PORT), GET /health there; without it, an MQTT
// CONNECT to the MQTT port (SHOAL_PORT, default 1883) must get CONNACK 0: a real client's view.
// Plain JavaScript without dependencies: it runs in the image as is.
import net from 'node:net';

const host = process.env.SHOAL_HEALTH_HOST ?? '127.0.0.1';
const deadline = setTimeout(() => done(false, 'no answer within 4 s'), 4000);

function done(ok, why) {
  clearTimeout(deadline);
  if (!ok) console.error(`unhealthy: ${why}`);
  process.exit(ok ? 0 : 1);
}

if (process.env.SHOAL_HTTP_PORT) {
  const url = `http://${host}:${process.env.SHOAL_HTTP_PORT}/health`;
  fetch(url).then((r) => done(r.status === 200, `${url}: HTTP ${r.status}`), (err) => done(false, `${url}: ${err.cause?.code ?? err.message}`));
} else {
  const port = Number(process.env.SHOAL_PORT ?? 1883);
  // CONNECT, MQTT 3.1.1, clean session, keepalive 0, client id "shoal-health".
  const id = Buffer.from('shoal-health');
  const body = Buffer.concat([Buffer.from([0, 4, 0x4d, 0x51, 0x54, 0x54, 4, 0x02, 0, 0, 0, id.length]), id]);
  const socket = net.connect({ host, port }, () => socket.write(Buffer.concat([Buffer.from([0x10, body.length]), body])));
  socket.on('data', (d) => {
    socket.destroy();
    done(d[0] === 0x20 && d[3] === 0, `CONNACK ${d.subarray(0, 4).toString('hex')}`);
  });
  socket.on('error', (err) => done(false, `mqtt://${host}:${port}: ${err.code ?? err.message}`));
}
