// A one-line status on stderr while connections ramp up, only when stderr is a terminal,
// so piped and --json runs stay clean.
export function startProgress(line: () => string, everyMs = 250): () => void {
  if (process.stderr.isTTY !== true) return () => {};
  const draw = (): void => { process.stderr.write(`\r\x1b[K${line()}`); };
  const timer = setInterval(draw, everyMs);
  timer.unref();
  return () => {
    clearInterval(timer);
    process.stderr.write('\r\x1b[K');
  };
}
