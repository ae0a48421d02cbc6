// Aedes (Node.js, single-threaded) via bench/brokers/aedes-server.ts in a child process.
import type { BrokerLauncher } from './types.ts';
import { startChildBroker } from './child-broker.ts';
import { fromRoot } from './repo-root.ts';

const LISTENING = /aedes listening on 127\.0\.0\.1:(\d+)/;

export const aedes: BrokerLauncher = {
  name: 'aedes',
  unavailable: () => null, // a devDependency: always installed with the project
  start: ({ startTimeoutMs = 20_000 }) =>
    startChildBroker({
      name: 'aedes',
      command: process.execPath,
      args: [fromRoot('bench', 'brokers', 'aedes-server.ts'), '--host', '127.0.0.1', '--port', '0'],
      cwd: fromRoot(),
      portFromLine: (line) => {
        const m = LISTENING.exec(line);
        return m ? Number(m[1]) : null;
      },
      startTimeoutMs,
    }),
};
