// The order the drainer sends in. Pending events are taken in enqueue order (the global counter),
// except that each rollout's own events always go out by ascending seq: the CP drops any event
// whose seq is not above the last it applied (spec §2.6, §2.9), so an event overtaken by a later
// one of the same rollout would be silently discarded as a "duplicate". Two cases need this:
// - a Replay-From re-enqueues old seqs (fresh counters) behind newer pending ones (G13);
// - probe chatter (memory) and durable events (disk) of one rollout interleave by seq, and a
//   Converged must not reach the CP before the probe results its invariants need (G9).

export interface Orderable {
  counter: number;
  rolloutId: string;
  seq: number;
}

/**
 * Sorts by counter, then refills the positions each rollout occupies with that rollout's events in
 * seq order (ties by counter). Rollouts keep their relative interleaving; within one the seq order
 * wins. Pure, so it is property-tested on its own.
 */
export function deliveryOrder<T extends Orderable>(items: readonly T[]): T[] {
  const byCounter = [...items].sort((a, b) => a.counter - b.counter);
  const groups = new Map<string, T[]>();
  for (const item of byCounter) {
    const g = groups.get(item.rolloutId);
    if (g === undefined) groups.set(item.rolloutId, [item]);
    else g.push(item);
  }
  for (const g of groups.values()) g.sort((a, b) => a.seq - b.seq || a.counter - b.counter);
  const cursor = new Map<string, number>();
  return byCounter.map((slot) => {
    const g = groups.get(slot.rolloutId) as T[];
    const i = cursor.get(slot.rolloutId) ?? 0;
    cursor.set(slot.rolloutId, i + 1);
    return g[i] as T;
  });
}
