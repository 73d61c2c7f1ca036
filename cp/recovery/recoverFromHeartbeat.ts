// `handle_heartbeat` (spec §7.4) minus the I/O: synthesis, replay point and bootstrap snapshots
// computed from one heartbeat and the host's records. The daemon persists `synthesis` (stepped
// snapshots and their effects) in one transaction, then renders `response` and `replayFrom`.
import type { HostRolloutSnapshot } from '../../machines/index.ts';
import type { HeartbeatRequest, HeartbeatResponse } from '../../proto/heartbeat.ts';
import type { Timestamp } from '../../proto/index.ts';
import { bootstrapSnapshots } from './bootstrapSnapshots.ts';
import { computeReplayFrom, replayFromByRollout } from './replayFrom.ts';
import { type GateCheck, type SynthesisResult, synthesizeFromHeartbeat } from './synthesizeFromHeartbeat.ts';

export interface RecoverFromHeartbeatInput {
  request: HeartbeatRequest;
  /** The host's active records as loaded; records of other hosts are ignored. */
  records: readonly HostRolloutSnapshot[];
  /** CP clock (spec §7.2). */
  now: Timestamp;
  gatesAllow: GateCheck;
}

export interface HeartbeatRecovery {
  synthesis: SynthesisResult;
  /** `X-Nixfleet-Replay-From` for the heartbeat's `rollout_id`, or null: no header. */
  replayFrom: number | null;
  /** The 200 body; encode with `encodeHeartbeatResponse`. */
  response: HeartbeatResponse;
}

export function recoverFromHeartbeat(input: RecoverFromHeartbeatInput): HeartbeatRecovery {
  const { request } = input;
  const own = input.records.filter((r) => r.context.hostname === request.hostname);
  // Step 2 before steps 3-4: replay and snapshots describe the post-synthesis records.
  const synthesis = synthesizeFromHeartbeat({
    records: own,
    currentClosure: request.current_closure,
    now: input.now,
    gatesAllow: input.gatesAllow,
  });
  const after = synthesis.snapshots;
  const seqs = request.last_event_seq_by_rollout ?? {};

  let replayFrom: number | null = null;
  if (request.rollout_id !== null) {
    const record = after.find((r) => r.context.rolloutId === request.rollout_id);
    if (record !== undefined) {
      replayFrom = computeReplayFrom(record, {
        lastEventSeq: seqs[request.rollout_id] ?? null,
        currentClosure: request.current_closure,
      });
    }
  }

  return {
    synthesis,
    replayFrom,
    response: {
      received_at: request.at,
      // A heartbeat naming its rollout comes from an agent whose reducer already knows it (§7.4 step 4).
      bootstrap_rollouts: request.rollout_id === null ? bootstrapSnapshots(after) : [],
      replay_from_by_rollout: replayFromByRollout(after, seqs),
    },
  };
}
