// Aedes on a plain TCP listener, run as its own process by the aedes launcher so its CPU
// and RSS are measured apart from the comparison script. Prints
// `aedes listening on 127.0.0.1:PORT` once it accepts connections.
//
// Settings that differ from a bare `net.createServer(aedes.handle)`:
//   noDelay: true  — the same as the Mosquitto config (set_tcp_nodelay), so no broker's
//                    latency includes Nagle delays.
// Everything else is Aedes's default (in-memory persistence and mqemitter, concurrency 100).
import net from 'node:net';
import { parseArgs } from 'node:util';
import { Aedes } from 'aedes';

const { values } = parseArgs({
  options: { host: { type: 'string', default: '127.0.0.1' }, port: { type: 'string', default: '0' } },
});

const broker = await Aedes.createBroker();
const server = net.createServer({ noDelay: true }, broker.handle);
server.listen(Number(values.port), values.host, () => {
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  console.log(`aedes listening on ${values.host}:${port}`);
});

function shutdown(): void {
  server.close();
  broker.close(() => process.exit(0));
  // Open client sockets keep close() waiting; a benchmark broker need not wait for them.
  setTimeout(() => process.exit(0), 1000).unref();
}
process.once('SIGTERM', shutdown);
process.once('SIGINT', shutdown);
