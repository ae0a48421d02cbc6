// What every broker launcher hands back. CPU and RSS are functions, not numbers, because
// the comparison samples them around the workload, and they must be read before stop()
// (the /proc entry disappears with the process).
export interface BrokerHandle {
  readonly name: string;
  readonly port: number;
  readonly pid: number;
  /** the admin HTTP base URL when the launcher turned it on (LaunchOptions.admin) */
  readonly admin?: string;
  /** user + system CPU seconds the broker process has used so far; null when unreadable */
  cpuSeconds(): number | null;
  /** peak resident set size (VmHWM) in bytes; null when unreadable */
  peakRssBytes(): number | null;
  /** last few KB the broker wrote to stdout/stderr, for failure messages */
  output(): string;
  /** null while running; once the process has ended on its own, how and its telling output
   * line, e.g. "exited with code 1 (RangeError: Maximum call stack size exceeded)" */
  died(): string | null;
  /** ends the broker (SIGTERM, then SIGKILL) and removes its temp files; safe to call twice */
  stop(): Promise<void>;
}

export interface LaunchOptions {
  /** shard count for brokers that have shards (Shoal); others ignore it */
  shards: number;
  /** turn the admin HTTP port on where the broker has one (the isolation bench reads client placement from it) */
  admin?: boolean;
  /** how long to wait for the broker to accept connections */
  startTimeoutMs?: number;
}

export interface BrokerLauncher {
  readonly name: string;
  /** Only run when named in --brokers (variants such as Shoal's persistence modes). */
  readonly optIn?: boolean;
  /** null when the broker can run here, else why it cannot (printed as a skip line) */
  unavailable(): string | null;
  start(options: LaunchOptions): Promise<BrokerHandle>;
}
