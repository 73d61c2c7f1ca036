// Bootstrap snapshots (spec §5.5, §7.4 step 4, §7.6): one wire snapshot per active record of the
// host, built from the post-synthesis records so a restarting agent rehydrates what the CP now
// believes (Soaking after a synthesised completion, not Activating).
import { type HostRolloutSnapshot, hostStateOf, isActive, toWireSnapshot } from '../../machines/index.ts';
import { encodeWireSnapshot, type HostRolloutWireSnapshot } from '../../proto/index.ts';
import { compareIds } from './synthesizeFromHeartbeat.ts';

/**
 * The snapshots for active records, ordered by rolloutId (§7.4 asks for a defined order; the agent
 * applies them in arrival order). Probe records and failure timestamps are agent-local and are not
 * on the wire (§7.6).
 */
export function bootstrapSnapshots(records: readonly HostRolloutSnapshot[]): HostRolloutWireSnapshot[] {
  return records
    .filter((r) => isActive(hostStateOf(r)))
    .sort((a, b) => compareIds(a.context.rolloutId, b.context.rolloutId))
    .map(toWireSnapshot);
}

/** `bootstrap_rollouts` as sent: the same snapshots with null fields omitted (spec §5.5). */
export function bootstrapRollouts(records: readonly HostRolloutSnapshot[]): Record<string, unknown>[] {
  return bootstrapSnapshots(records).map(encodeWireSnapshot);
}
