// Stale rules: a rule removed from the configuration must not leave its subscription behind in a
// persistent session, on either side. The local session's subscriptions are known (the session
// is ours), so at the local connect the bridge unsubscribes every filter that is no longer an
// `out` rule's. The remote's are not: MQTT has no way to list a session's subscriptions. So the
// bridge records the remote filters it subscribed, in <data-dir>/bridges/<name>.json (with
// `persistence: memory`, no files: in memory only, which covers a reload but not a restart), and
// at a remote connect that finds its session unsubscribes the recorded filters no `in` rule has.
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** The filters of `current` that `wanted` does not have, in `current`'s order. */
export function staleFilters(current: Iterable<string>, wanted: readonly string[]): string[] {
  const keep = new Set(wanted);
  const stale: string[] = [];
  for (const f of current) if (!keep.has(f)) stale.push(f);
  return stale;
}

/** The remote filters a bridge subscribed, as last recorded. */
export class RemoteFilters {
  private readonly file: string | null;
  private filters: string[];

  /** `dir` null: kept in memory only. */
  constructor(dir: string | null, name: string) {
    // The "bridge-" prefix keeps a name such as ".." a plain file name.
    this.file = dir === null ? null : join(dir, 'bridges', `bridge-${name}.json`);
    this.filters = this.file === null ? [] : readList(this.file);
  }

  get recorded(): readonly string[] { return this.filters; }

  /** Records `filters` (after the remote has taken the subscribe/unsubscribe they reflect). */
  record(filters: readonly string[]): void {
    if (sameList(filters, this.filters)) return;
    this.filters = [...filters];
    if (this.file === null) return;
    // Written whole and renamed, so a crash leaves the old list or the new one.
    mkdirSync(join(this.file, '..'), { recursive: true });
    const tmp = `${this.file}.tmp`;
    writeFileSync(tmp, JSON.stringify(this.filters) + '\n');
    renameSync(tmp, this.file);
  }
}

/** The list in `file`; none when it is missing or unreadable (then nothing is unsubscribed). */
function readList(file: string): string[] {
  try {
    const v: unknown = JSON.parse(readFileSync(file, 'utf8'));
    return Array.isArray(v) ? v.filter((f): f is string => typeof f === 'string') : [];
  } catch {
    return [];
  }
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((f, i) => f === b[i]);
}
