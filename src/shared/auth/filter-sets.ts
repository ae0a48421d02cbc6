// Topic filters as sets of topic names, for the SUBSCRIBE verdict: does filter F share a topic
// with rule R (meet), does R match every topic F matches (contains). Filters are given as
// level arrays (filter.split('/')). The rules are MQTT's: '+' is one level (possibly empty),
// '#' the parent level and everything below, and a topic whose first level starts with '$' is
// matched by no filter whose first level is a wildcard [MQTT-4.7.2-1].

const isWild = (level: string): boolean => level === '+' || level === '#';
const isDollar = (level: string | undefined): boolean => level !== undefined && level.charCodeAt(0) === 0x24;

/** The filter matching exactly the topics both match, or null when they share none. */
export function meet(a: readonly string[], b: readonly string[]): string[] | null {
  // a '$' first level is invisible to a wildcard first level
  if ((isDollar(a[0]) && isWild(b[0]!)) || (isDollar(b[0]) && isWild(a[0]!))) return null;
  const out: string[] = [];
  for (let i = 0; ; i++) {
    const x = a[i];
    const y = b[i];
    if (x === '#') return y === undefined ? out : out.concat(b.slice(i));
    if (y === '#') return x === undefined ? out : out.concat(a.slice(i));
    if (x === undefined || y === undefined) return x === y ? out : null;
    if (x === '+') out.push(y);
    else if (y === '+' || x === y) out.push(x);
    else return null;
  }
}

/** Whether every topic `inner` matches is matched by `outer`. */
export function contains(outer: readonly string[], inner: readonly string[]): boolean {
  if (isDollar(inner[0]) && isWild(outer[0]!)) return false;
  for (let i = 0; ; i++) {
    const x = outer[i];
    const y = inner[i];
    if (x === '#') return true;
    if (y === undefined) return x === undefined;
    if (x === undefined || y === '#') return false;
    if (x === '+') continue;
    if (y === '+' || x !== y) return false;
  }
}
