// Runs the fake broker on its own, to measure the tools' ceiling:
//   node bench/lib/sink.ts [--port 1884] [--forward-every N]
import { startFakeBroker } from './fake-broker.ts';
import { Options, parseArgs } from './args.ts';

const o = new Options(parseArgs(process.argv.slice(2), [
  { name: 'port', kind: 'string', help: 'port (default 1884)' },
  { name: 'forward-every', kind: 'string', help: 'forward every Nth publish (default 1)' },
]));
const broker = await startFakeBroker({ port: o.int('port', 1884, 0, 65535), forwardEvery: o.int('forward-every', 1, 1) });
process.stderr.write(`fake broker on 127.0.0.1:${broker.port}\n`);
const stop = (): void => {
  process.stderr.write(`published ${broker.published}, forwarded ${broker.forwarded}\n`);
  void broker.close().then(() => process.exit(0));
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
