// How persisted actors project onto their table rows: the snapshot JSONB is the truth, the columns
// beside it serve dashboards, gates and boot filtering (spec §7.14).
import type { PersistedHostRollout, PersistedRollout } from '../../machines/index.ts';

/** [column, SQL type] in the order used for batched writes through `jsonb_to_recordset`. */
export const HOST_COLUMNS = [
  ['rollout_id', 'text'],
  ['hostname', 'text'],
  ['channel', 'text'],
  ['state', 'text'],
  ['target_closure', 'text'],
  ['current_closure_at_dispatch', 'text'],
  ['current_closure', 'text'],
  ['reverted_to', 'text'],
  ['dispatched_at', 'timestamptz'],
  ['dispatch_acked_at', 'timestamptz'],
  ['activation_started_at', 'timestamptz'],
  ['activation_completed_at', 'timestamptz'],
  ['activation_failed_at', 'timestamptz'],
  ['probe_observed_first_at', 'timestamptz'],
  ['probe_failure_first_at', 'timestamptz'],
  ['soak_due_at', 'timestamptz'],
  ['converged_at', 'timestamptz'],
  ['failed_at', 'timestamptz'],
  ['reverted_at', 'timestamptz'],
  ['policy_applied', 'text'],
  ['probes_json', 'jsonb'],
  ['last_event_seq', 'bigint'],
  ['wave', 'integer'],
  ['machine_id', 'text'],
  ['machine_version', 'integer'],
  ['snapshot', 'jsonb'],
  ['status', 'text'],
  ['updated_at', 'timestamptz'],
] as const;

export const ROLLOUT_COLUMNS = [
  ['rollout_id', 'text'],
  ['channel', 'text'],
  ['target_ref', 'text'],
  ['state', 'text'],
  ['current_wave', 'integer'],
  ['opened_at', 'timestamptz'],
  ['terminal_at', 'timestamptz'],
  ['superseded_at', 'timestamptz'],
  ['finished_at', 'timestamptz'],
  ['machine_id', 'text'],
  ['machine_version', 'integer'],
  ['snapshot', 'jsonb'],
  ['last_event_seq', 'bigint'],
  ['status', 'text'],
  ['updated_at', 'timestamptz'],
] as const;

type Row = Record<string, unknown>;

export function hostRow(p: PersistedHostRollout, version: number, at: Date): Row {
  const c = p.context;
  return {
    rollout_id: c.rolloutId,
    hostname: c.hostname,
    channel: c.channel,
    state: p.value,
    target_closure: c.targetClosure,
    current_closure_at_dispatch: c.currentClosureAtDispatch,
    current_closure: c.currentClosure,
    reverted_to: c.revertedTo,
    dispatched_at: c.dispatchedAt,
    dispatch_acked_at: c.dispatchAckedAt,
    activation_started_at: c.activationStartedAt,
    activation_completed_at: c.activationCompletedAt,
    activation_failed_at: c.activationFailedAt,
    probe_observed_first_at: c.probeObservedFirstAt,
    probe_failure_first_at: c.probeFailureFirstAt,
    soak_due_at: c.soakDueAt,
    converged_at: c.convergedAt,
    failed_at: c.failedAt,
    reverted_at: c.revertedAt,
    policy_applied: c.policyApplied,
    probes_json: c.probes,
    last_event_seq: version,
    wave: c.wave,
    machine_id: p.machineId,
    machine_version: p.machineVersion,
    snapshot: p,
    status: p.status,
    updated_at: at.toISOString(),
  };
}

export function rolloutRow(p: PersistedRollout, version: number, at: Date): Row {
  const c = p.context;
  return {
    rollout_id: c.rolloutId,
    channel: c.channel,
    target_ref: c.targetRef,
    state: p.value,
    current_wave: c.currentWave,
    opened_at: c.openedAt,
    terminal_at: c.terminalAt,
    superseded_at: c.supersededAt,
    finished_at: c.finishedAt,
    machine_id: p.machineId,
    machine_version: p.machineVersion,
    snapshot: p,
    last_event_seq: version,
    status: p.status,
    updated_at: at.toISOString(),
  };
}
