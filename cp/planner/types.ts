// What the planner reads and what it decides (spec §4.1-4.2). Plain data: the caller loads it from
// the database in one consistent read (spec §7.7) and applies the actions; the planner does no I/O
// and reads no clock, so one tick is a pure function of these values.
import type {
  FleetResolved,
  HostState,
  RolloutEvent,
  RolloutManifest,
  RolloutState,
} from '../../proto/index.ts';

/** A row of `rollouts` as the planner needs it (spec §3.2, §4.1 `RolloutSummary`). */
export interface RolloutSummary {
  readonly rolloutId: string;
  readonly channel: string;
  /** Advisory (spec §3.6); the planner decides "finished" from the timestamps below. */
  readonly state: RolloutState;
  readonly currentWave: number;
  /** Set when every host Converged: the only "done" that releases channel-edge successors. */
  readonly terminalAt: string | null;
  /** Set on Terminal, Failed or Reverted (spec §10 G15); a halted rollout has it without terminalAt. */
  readonly finishedAt: string | null;
}

/** A host-rollout record (spec §2.2) reduced to the fields the gates read. */
export interface HostRecordSummary {
  readonly rolloutId: string;
  readonly hostname: string;
  readonly channel: string;
  readonly state: HostState;
  readonly targetClosure: string;
  readonly dispatchAckedAt: string | null;
  readonly soakDueAt: string | null;
}

/** A row of `quarantined_closures` (spec §7.12). The caller loads the table every tick (§10 G1). */
export interface QuarantineEntry {
  readonly channel: string;
  readonly closure: string;
}

/**
 * A dispatch the control plane has queued and not yet seen acknowledged (spec §5.6). `takenAt` is
 * null while the row waits in `dispatch_queue`; once a long-poll has taken it the row is gone from
 * the queue, and only a caller that remembers the take (with its time) can pass it here. A caller
 * that cannot simply omits taken dispatches: the host is then re-queued on the next tick, which is
 * the original's behaviour.
 */
export interface OutstandingDispatch {
  readonly hostname: string;
  readonly rolloutId: string;
  readonly targetClosure: string;
  readonly soakDueAt: string;
  readonly queuedAt: string;
  readonly takenAt: string | null;
}

/**
 * Distinct outstanding enforce-probe failures of one host in one rollout (spec §7.13
 * `COUNT(DISTINCT COALESCE(control_id, probe_name))`). A rollout with no entry at all leaves the
 * compliance-wave gate open for it (spec §4.5.6).
 */
export interface OutstandingFailures {
  readonly rolloutId: string;
  readonly hostname: string;
  readonly count: number;
}

export interface PlannerInput {
  /** The verified, policy-normalised fleet (spec §1.5, §1.10). */
  readonly fleet: FleetResolved;
  /** The verified current rollout manifest of each channel, keyed by channel (spec §4.1). */
  readonly manifests: Readonly<Record<string, RolloutManifest>>;
  /**
   * Every rollout row that is not Pruned. Only the current manifest's rollout of each channel is
   * planned (spec §4.1); older ones are read to supersede them.
   */
  readonly rollouts: readonly RolloutSummary[];
  /** Host-rollout records of the rollouts above; (rolloutId, hostname) is their primary key. */
  readonly hostRecords: readonly HostRecordSummary[];
  readonly quarantined: readonly QuarantineEntry[];
  readonly dispatches: readonly OutstandingDispatch[];
  readonly outstandingFailures: readonly OutstandingFailures[];
  /** The control plane's clock for this tick; stamps proposed events and ages dispatches. */
  readonly now: string;
}

export interface PlannerOptions {
  /**
   * How long a dispatch a long-poll has taken may stay unacknowledged before the planner queues it
   * again, in milliseconds. The agent acknowledges within seconds of receiving a dispatch, so a
   * longer silence means the response was lost or the agent died (spec §5.6). Default 30 000 (two
   * plan ticks). Lower re-sends sooner and duplicates more (agents drop duplicates).
   */
  readonly requeueUnackedAfterMs?: number;
}

export const DEFAULT_REQUEUE_UNACKED_AFTER_MS = 30_000;

/**
 * Gate discriminators (spec §4.4) plus two of this implementation: `rollout-halted` (spec §10 G19)
 * and `host-busy` (one dispatch per host at a time, across rollouts). `no-plan-state` is only ever
 * returned to heartbeat synthesis (spec §4.6) when there is nothing to evaluate against.
 */
export const GATE_NAMES = [
  'rollout-halted',
  'quarantine',
  'channel-edges',
  'wave-promotion',
  'wave-promotion-host-unstaged',
  'host-edge',
  'disruption-budget',
  'compliance-wave',
  'host-busy',
  'no-plan-state',
] as const;
export type GateName = (typeof GATE_NAMES)[number];

/** Why a Pending host was not dispatched (spec §4.4). `reason` is for operators; tests read `gate`. */
export interface GateBlock {
  readonly host: string;
  readonly rolloutId: string;
  readonly gate: GateName;
  readonly reason: string;
}

export type WaveAdvancedEvent = Extract<RolloutEvent, { type: 'WaveAdvanced' }>;
export type SuccessorOpenedEvent = Extract<RolloutEvent, { type: 'SuccessorOpened' }>;

/** Insert the rollout row (Opening) and its Pending host records from the manifest (spec §7.8). */
export interface OpenRolloutAction {
  readonly type: 'OpenRollout';
  readonly rolloutId: string;
  readonly channel: string;
  readonly targetRef: string;
}

/**
 * A rollout event for the rollout actor to apply. The chart owns `currentWave` and supersession
 * (spec §10 G18); the planner only proposes.
 */
export interface RolloutEventAction {
  readonly type: 'RolloutEvent';
  readonly event: WaveAdvancedEvent | SuccessorOpenedEvent;
}

export type QueueCause =
  /** No dispatch was outstanding for this host. */
  | 'new'
  /** The queued row carries another target or soak deadline than the record now does. */
  | 'refresh'
  /** A long-poll took the row and no acknowledgement followed in time (spec §5.6). */
  | 'unacked-timeout';

/** Upsert the `dispatch_queue` row and wake the host's long-poll (spec §7.8). */
export interface QueueDispatchAction {
  readonly type: 'QueueDispatch';
  readonly host: string;
  readonly rolloutId: string;
  readonly targetClosure: string;
  readonly soakDueAt: string;
  readonly cause: QueueCause;
}

/** A gate held the host back; log it and count `nixfleet_gate_block_total{gate}` (spec §4.2). */
export interface DeferDispatchAction extends GateBlock {
  readonly type: 'DeferDispatch';
}

export type WithdrawCause =
  /** A gate now blocks a host whose dispatch was still waiting to be taken. */
  | 'blocked'
  /** The host acknowledged (or moved on); a leftover row would hand it the same dispatch again. */
  | 'acked'
  /** The dispatch belongs to no record of a current rollout (superseded, unknown). */
  | 'stale';

/** Delete the `dispatch_queue` row (if still there) and forget the dispatch. */
export interface WithdrawDispatchAction {
  readonly type: 'WithdrawDispatch';
  readonly host: string;
  readonly rolloutId: string;
  readonly cause: WithdrawCause;
}

export type NoticeCode =
  /** A manifest keyed under another channel than its own `channel` field. */
  | 'manifest-channel-mismatch'
  /** A channel name that cannot form a rollout id (spec §1.8: no `@`). */
  | 'invalid-channel'
  /** An empty `channelRef` (the fleet had no `meta.ciCommit`): no valid rollout id to open. */
  | 'missing-channel-ref'
  /** A manifest for a channel the fleet does not declare (legacy `channel_unknown`). */
  | 'channel-unknown'
  /** The manifest names a rollout that is already Superseded or Pruned: nothing will move. */
  | 'rollout-retired';

/** Something the operator must fix before the planner can act on a channel; errors as values. */
export interface NoticeAction {
  readonly type: 'Notice';
  readonly code: NoticeCode;
  readonly channel: string;
  readonly rolloutId: string | null;
  readonly detail: string;
}

export type PlanAction =
  | NoticeAction
  | OpenRolloutAction
  | RolloutEventAction
  | QueueDispatchAction
  | DeferDispatchAction
  | WithdrawDispatchAction;
