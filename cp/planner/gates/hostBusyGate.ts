// One dispatch per host at a time. A host belongs to one channel, so it has one current rollout;
// but after a host moves channel, two channels' current manifests (cut from different fleets) can
// both list it. Dispatching both would activate two closures on one machine, so the second waits
// until the first is no longer in flight. Beyond the spec, which never meets the case.
import { blockOf, type Gate } from './gate.ts';

export const hostBusyGate: Gate = (view, c, tick) => {
  const elsewhere = view.busy.get(c.hostname)?.find((id) => id !== c.rolloutId);
  if (elsewhere !== undefined) {
    return blockOf(
      c,
      'host-busy',
      `host-busy: host is in flight in rollout ${elsewhere}; one rollout at a time`,
    );
  }
  return tick.hosts.has(c.hostname)
    ? blockOf(c, 'host-busy', 'host-busy: host was already dispatched in another rollout this tick')
    : null;
};
