import type { HostRolloutContext } from './context.ts';
import type { LocalEvent } from './events.ts';

/**
 * The agent numbers its own events: workers send seq 0 and the single mutator stamps
 * `lastEventSeq + 1` before stepping. Generic over every Local variant — the original's rewrite
 * skipped LocalActivationDeferred, whose seq then stayed 0 and was refused (spec §10 G3).
 */
export function withNextSeq<E extends LocalEvent>(
  record: Pick<HostRolloutContext, 'lastEventSeq'>,
  event: E,
): E {
  return { ...event, seq: record.lastEventSeq + 1 };
}
