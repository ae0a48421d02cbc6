// Entry wrapper for the tools: usage errors and unexpected failures exit 2 with one line.
import { UsageError } from './args.ts';
import { EXIT_USAGE } from './errors.ts';

/** A failure the user can act on: printed as one line, exit 2. */
export class FatalError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
  }
}

export function runCli(tool: string, main: () => Promise<void>): void {
  main().catch((err: unknown) => {
    if (err instanceof UsageError) {
      process.stderr.write(`${tool}: ${err.message}\n(see ${tool} --help)\n`);
    } else if (err instanceof FatalError) {
      process.stderr.write(`${tool}: ${err.message}\n`);
    } else {
      process.stderr.write(`${tool}: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
    }
    process.exitCode = EXIT_USAGE;
  });
}
