import type { HostState } from '../../proto/common.ts';

/**
 * A rollout is Terminal once every one of its host records is Converged (spec §3.6, §3.8). A
 * Deferred host holds it open until the host reboots and converges; an empty rollout never ends.
 */
export function allHostsConverged(states: Iterable<HostState>): boolean {
  let any = false;
  for (const s of states) {
    if (s !== 'Converged') return false;
    any = true;
  }
  return any;
}
