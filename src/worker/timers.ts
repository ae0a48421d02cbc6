// setTimeout takes at most 2^31-1 ms (~24.8 days); session expiry and will delay can be up to
// 2^32-1 seconds. Chain timeouts for longer delays. unref'd: timers never keep a shard alive.
const MAX = 0x7fffffff;

export function setLongTimeout(fn: () => void, ms: number): NodeJS.Timeout {
  if (ms <= MAX) { const t = setTimeout(fn, ms); t.unref(); return t; }
  const holder = setTimeout(() => { const next = setLongTimeout(fn, ms - MAX); Object.assign(holder, { _next: next }); }, MAX);
  holder.unref();
  return holder;
}
