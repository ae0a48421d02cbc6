// The order brokers run in. Rotating the order every round spreads slow drifts of the
// machine (thermal, page cache, background jobs) over all brokers instead of one.

export interface Slot {
  round: number; // 1-based
  position: number; // 1-based
  broker: string;
}

/** round 1: a b c; round 2: b c a; round 3: c a b; round 4: a b c … */
export function schedule(brokers: readonly string[], rounds: number): Slot[] {
  const slots: Slot[] = [];
  const n = brokers.length;
  for (let r = 0; r < rounds; r++) {
    for (let i = 0; i < n; i++) {
      slots.push({ round: r + 1, position: i + 1, broker: brokers[(r + i) % n]! });
    }
  }
  return slots;
}
