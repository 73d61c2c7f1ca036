// `compute_replay_from` (spec §7.5) with the G13 fix. The value is defined as the highest seq the CP
// has applied for the rollout; the agent re-sends its events with a greater seq. (The original's
// comment said "+1" while its code returned `lastEventSeq`; the code's meaning is kept, and named.)
import { type HostRolloutSnapshot, hostStateOf, isTerminal } from '../../machines/index.ts';

export interface ReplayReport {
  /**
   * The agent's highest seq for this rollout (`last_event_seq_by_rollout[rolloutId]`, G13). When
   * present it decides alone: seqs say exactly what the CP is missing, closures only hint at it.
   */
  lastEventSeq?: number | null;
  /** The host's current closure: the v0.2 drift signal, used when no seq was reported. */
  currentClosure?: string | null;
}

/**
 * The replay point for one record, or null when nothing should be re-sent. Computed on the record
 * after heartbeat synthesis (§7.4 step 3 follows step 2).
 */
export function computeReplayFrom(record: HostRolloutSnapshot, report: ReplayReport): number | null {
  const c = record.context;
  // A terminal record refuses every later event (spec §2.7), so a replay could only produce 409s.
  if (isTerminal(hostStateOf(record))) return null;
  const agentSeq = report.lastEventSeq ?? null;
  if (agentSeq !== null) {
    // Agent behind or level: nothing to re-send. Behind happens after synthesis ran the CP's seq
    // ahead (§2.9 hazard); the bootstrap snapshot's lastEventSeq realigns the agent instead.
    return agentSeq > c.lastEventSeq ? c.lastEventSeq : null;
  }
  const closure = report.currentClosure ?? null;
  if (closure === null) return null;
  // §7.5: the agent runs a closure the CP has not seen acknowledged (null or different) ⇒ drift.
  return c.currentClosure === closure ? null : c.lastEventSeq;
}

/**
 * G13: replay points for every rollout the agent reported a seq for and the CP holds a record of.
 * A rollout the CP has no record of is left out: nothing it sends could be applied (spec §7.3 step 2).
 */
export function replayFromByRollout(
  records: readonly HostRolloutSnapshot[],
  lastEventSeqByRollout: Readonly<Record<string, number>>,
): Record<string, number> {
  const out: Record<string, number> = {};
  for (const record of records) {
    const reported = lastEventSeqByRollout[record.context.rolloutId];
    if (reported === undefined) continue;
    const from = computeReplayFrom(record, { lastEventSeq: reported });
    if (from !== null) out[record.context.rolloutId] = from;
  }
  return out;
}
