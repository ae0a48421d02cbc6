// The seed corpus: the raw-packet fixture catalogue (test/fixtures/packets.ts), split by
// the protocol family a connection speaks and by phase (first bytes on a connection, or
// after a successful CONNECT), plus a valid CONNECT per version to reach the session phase.
import { FIXTURES, type PacketFixture } from '../test/fixtures/packets.ts';
import { connect } from '../test/fixtures/build.ts';

export type Protocol = '3.1.1' | '5' | 'both';
export type Version = 3 | 4 | 5;

export interface Corpus {
  versions: Version[];
  /** Fixtures sent as the first bytes of a connection. */
  first: PacketFixture[];
  /** Fixtures sent after a CONNECT, by version. */
  session: Map<Version, PacketFixture[]>;
}

/** 3.1.1 covers the 3.1 fixtures too (same family, level 3 and 4). */
export function buildCorpus(protocol: Protocol): Corpus {
  const versions: Version[] = protocol === '5' ? [5] : protocol === '3.1.1' ? [3, 4] : [3, 4, 5];
  const mine = FIXTURES.filter((f) => versions.includes(f.version));
  const session = new Map<Version, PacketFixture[]>();
  for (const v of versions) session.set(v, mine.filter((f) => f.phase === 'session' && f.version === v));
  // 3.1 has few session fixtures of its own; 3.1.1's packets are the same after CONNECT.
  if (versions.includes(3)) session.set(3, [...session.get(3)!, ...mine.filter((f) => f.phase === 'session' && f.version === 4)]);
  return { versions, first: mine.filter((f) => f.phase === 'connect'), session };
}

/** A valid clean CONNECT; ids come from a small range so some inputs take over others' sessions. */
export function validConnect(version: Version, clientId: string, keepAlive: number): Buffer {
  return connect({ level: version, clientId, keepAlive });
}
