// The command-line entry (bin/shoal.js): read the configuration from flags, environment and
// file, start the broker (src/main/broker.ts) with signal handling, print the start line.
// Exit codes: 2 for anything wrong with the configuration (with its source), 1 for a start
// that failed (files, ports, shards), 0 for a clean stop.
import { loadCli, type Cli } from '../shared/config/load.ts';
import { ShoalError } from '../shared/errors.ts';
import { startBroker, version, type Broker } from './broker.ts';

function fail(err: unknown): string {
  return `shoal: ${(err as Error).message}${err instanceof ShoalError ? ` (${err.code})` : ''}`;
}

let cli: Cli;
try {
  cli = loadCli(process.argv.slice(2), process.env);
} catch (err) {
  console.error(`shoal: ${(err as Error).message}`);
  process.exit(2);
}
// --help and --print-config only: print.ts brings the YAML writer.
if (cli.action === 'help') {
  const { helpText } = await import('../shared/config/print.ts');
  console.log(helpText());
  process.exit(0);
}
if (cli.action === 'version') {
  console.log(`shoal ${version}`);
  process.exit(0);
}
if (cli.action === 'print-config') {
  const { printConfig } = await import('../shared/config/print.ts');
  console.log(printConfig(cli));
  process.exit(0);
}

let broker: Broker;
try {
  // Signal handlers go in before the start line: whoever reads it may signal at once.
  broker = await startBroker(cli.config, { handleSignals: true, configFile: cli.file });
  await broker.listen();
} catch (err) {
  console.error(fail(err));
  process.exit(1);
}
console.log(broker.startLine());
