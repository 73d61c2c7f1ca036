// The control plane's PostgreSQL schema (spec §7.14), one module shared by postgres.js and PGlite.
// Actor tables follow "one row per actor" (xstate-notes §1.7): the persisted XState snapshot is the
// source of truth, the projected columns beside it exist for dashboards, gates and boot filtering.
// Changing this file means running `npm run db:generate` and committing the new migration.
import { sql } from 'drizzle-orm';
import {
  bigint,
  bigserial,
  check,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uniqueIndex,
} from 'drizzle-orm/pg-core';

export const ROLLOUT_STATES = [
  'Opening',
  'Active',
  'Converging',
  'Terminal',
  'Reverted',
  'Failed',
  'Superseded',
  'Pruned',
] as const;
export type RolloutState = (typeof ROLLOUT_STATES)[number];

// Deferred is included although the original's first baseline omitted it: later revisions store
// Deferred rows (spec §7.14).
export const HOST_ROLLOUT_STATES = [
  'Pending',
  'Activating',
  'Deferred',
  'Soaking',
  'Converged',
  'Failed',
  'Reverted',
] as const;
export type HostRolloutState = (typeof HOST_ROLLOUT_STATES)[number];

export const POLICIES_APPLIED = ['halt', 'rollback-and-halt'] as const;
export type PolicyApplied = (typeof POLICIES_APPLIED)[number];

/**
 * Lifecycle of an actor row, independent of the chart's own state: `active` rows are rehydrated at
 * boot, `done` rows are history, `quarantined` rows failed to restore (see `restore_error`) and are
 * left alone until an operator looks at them.
 */
export const ACTOR_ROW_STATUSES = ['active', 'done', 'quarantined'] as const;
export type ActorRowStatus = (typeof ACTOR_ROW_STATUSES)[number];

export const EVENT_LOG_KINDS = [
  'agent_event',
  'effect',
  'rollout_event',
  'plan',
  'heartbeat',
  'operator',
  'recovery',
] as const;
export type EventLogKind = (typeof EVENT_LOG_KINDS)[number];

// Renders a CHECK's IN-list from the same constant the TypeScript union comes from, so the two
// cannot drift. The values are compile-time literals, never user input.
const oneOf = (values: readonly string[]) => sql.raw(values.map((v) => `'${v}'`).join(', '));

const timestamptz = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' });

export const rollouts = pgTable(
  'rollouts',
  {
    /** `channel@ref` (spec §1.8). */
    rolloutId: text('rollout_id').primaryKey(),
    channel: text('channel').notNull(),
    targetRef: text('target_ref').notNull(),
    state: text('state', { enum: ROLLOUT_STATES }).notNull(),
    /** Monotonic (spec §3.7). */
    currentWave: integer('current_wave').notNull().default(0),
    // Always NULL in v0.2; kept so forensic links can be filled in without a migration.
    openedEventLogSeq: bigint('opened_event_log_seq', { mode: 'number' }).references(() => eventLog.seq, {
      onDelete: 'set null',
    }),
    lastTransitionEventLogSeq: bigint('last_transition_event_log_seq', { mode: 'number' }).references(
      () => eventLog.seq,
      { onDelete: 'set null' },
    ),
    openedAt: timestamptz('opened_at').notNull(),
    terminalAt: timestamptz('terminal_at'),
    supersededAt: timestamptz('superseded_at'),
    /**
     * Set on reaching Terminal, Failed or Reverted. Failed/Reverted never get `terminal_at`, which in
     * the original left them unprunable forever (spec §10 G15); retention keys on this instead.
     */
    finishedAt: timestamptz('finished_at'),
    machineId: text('machine_id').notNull(),
    /** Version of the chart that wrote `snapshot`; restore migrates older snapshots forward. */
    machineVersion: integer('machine_version').notNull(),
    /** XState persisted snapshot of the rollout actor, children stripped (xstate-notes §1.7). */
    snapshot: jsonb('snapshot').$type<object>().notNull(),
    /**
     * The actor's step counter. Writers update `WHERE last_event_seq = <seq they read>`: a stale owner
     * (another CP replica, a lost race) matches zero rows instead of overwriting newer state.
     */
    lastEventSeq: bigint('last_event_seq', { mode: 'number' }).notNull().default(0),
    status: text('status', { enum: ACTOR_ROW_STATUSES }).notNull().default('active'),
    restoreError: text('restore_error'),
    updatedAt: timestamptz('updated_at').notNull().defaultNow(),
  },
  (t) => [
    check('rollouts_state_check', sql`${t.state} IN (${oneOf(ROLLOUT_STATES)})`),
    check('rollouts_status_check', sql`${t.status} IN (${oneOf(ACTOR_ROW_STATUSES)})`),
    index('rollouts_channel_state_idx').on(t.channel, t.state),
    // The planner scans only rollouts that can still change or block successors.
    index('rollouts_live_state_idx')
      .on(t.state)
      .where(sql`${t.state} IN ('Opening', 'Active', 'Converging', 'Reverted', 'Failed')`),
  ],
);

export const hostRolloutRecords = pgTable(
  'host_rollout_records',
  {
    rolloutId: text('rollout_id')
      .notNull()
      .references(() => rollouts.rolloutId, { onDelete: 'cascade' }),
    hostname: text('hostname').notNull(),
    channel: text('channel').notNull(),
    state: text('state', { enum: HOST_ROLLOUT_STATES }).notNull(),
    targetClosure: text('target_closure').notNull(),
    currentClosureAtDispatch: text('current_closure_at_dispatch'),
    currentClosure: text('current_closure'),
    revertedTo: text('reverted_to'),
    dispatchedAt: timestamptz('dispatched_at').notNull(),
    dispatchAckedAt: timestamptz('dispatch_acked_at'),
    activationStartedAt: timestamptz('activation_started_at'),
    activationCompletedAt: timestamptz('activation_completed_at'),
    activationFailedAt: timestamptz('activation_failed_at'),
    probeObservedFirstAt: timestamptz('probe_observed_first_at'),
    probeFailureFirstAt: timestamptz('probe_failure_first_at'),
    soakDueAt: timestamptz('soak_due_at'),
    convergedAt: timestamptz('converged_at'),
    failedAt: timestamptz('failed_at'),
    revertedAt: timestamptz('reverted_at'),
    policyApplied: text('policy_applied', { enum: POLICIES_APPLIED }),
    probesJson: jsonb('probes_json').$type<Record<string, unknown>>().notNull().default({}),
    /**
     * Highest agent event seq applied (spec §2.9), which is also the actor's step counter for the
     * optimistic-concurrency guard described on `rollouts.last_event_seq`.
     */
    lastEventSeq: bigint('last_event_seq', { mode: 'number' }).notNull().default(0),
    wave: integer('wave').notNull().default(0),
    machineId: text('machine_id').notNull(),
    machineVersion: integer('machine_version').notNull(),
    /** XState persisted snapshot of this host-rollout actor. */
    snapshot: jsonb('snapshot').$type<object>().notNull(),
    status: text('status', { enum: ACTOR_ROW_STATUSES }).notNull().default('active'),
    restoreError: text('restore_error'),
    updatedAt: timestamptz('updated_at').notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ columns: [t.rolloutId, t.hostname], name: 'host_rollout_records_pkey' }),
    check('host_rollout_records_state_check', sql`${t.state} IN (${oneOf(HOST_ROLLOUT_STATES)})`),
    check(
      'host_rollout_records_policy_applied_check',
      sql`${t.policyApplied} IS NULL OR ${t.policyApplied} IN (${oneOf(POLICIES_APPLIED)})`,
    ),
    check('host_rollout_records_status_check', sql`${t.status} IN (${oneOf(ACTOR_ROW_STATUSES)})`),
    index('host_rollout_records_hostname_idx').on(t.hostname),
    index('host_rollout_records_channel_state_idx').on(t.channel, t.state),
    // Boot rehydrates only live actors; finished hosts stay as history rows (xstate-notes §1.7).
    index('host_rollout_records_active_idx').on(t.rolloutId).where(sql`${t.status} = 'active'`),
  ],
);

export const eventLog = pgTable(
  'event_log',
  {
    seq: bigserial('seq', { mode: 'number' }).primaryKey(),
    // Caller-supplied so that time comes from the injected clock, never from the database (spec §7.2).
    ts: timestamptz('ts').notNull(),
    hostId: text('host_id'),
    rolloutId: text('rollout_id'),
    kind: text('kind', { enum: EVENT_LOG_KINDS }).notNull(),
    payload: jsonb('payload').$type<object>().notNull(),
    /** The agent's per-(host, rollout) seq for `agent_event` rows (spec §2.9); the idempotency key. */
    actorSeq: bigint('actor_seq', { mode: 'number' }),
  },
  (t) => [
    check('event_log_kind_check', sql`${t.kind} IN (${oneOf(EVENT_LOG_KINDS)})`),
    // NULLs never collide in a unique index, so an agent event without its full key would slip past
    // the idempotency index below; every agent event carries all three (spec §5.4).
    check(
      'event_log_agent_event_key_check',
      sql`${t.kind} <> 'agent_event' OR (${t.hostId} IS NOT NULL AND ${t.rolloutId} IS NOT NULL AND ${t.actorSeq} IS NOT NULL)`,
    ),
    index('event_log_host_ts_idx').on(t.hostId, t.ts).where(sql`${t.hostId} IS NOT NULL`),
    index('event_log_rollout_seq_idx').on(t.rolloutId, t.seq).where(sql`${t.rolloutId} IS NOT NULL`),
    index('event_log_kind_ts_idx').on(t.kind, t.ts),
    // A redelivered agent event (retry after a lost 204) must not be logged or applied twice.
    uniqueIndex('event_log_agent_event_key')
      .on(t.hostId, t.rolloutId, t.actorSeq)
      .where(sql`${t.kind} = 'agent_event'`),
  ],
);

export const dispatchQueue = pgTable(
  'dispatch_queue',
  {
    hostname: text('hostname').notNull(),
    rolloutId: text('rollout_id').notNull(),
    targetClosure: text('target_closure').notNull(),
    soakDueAt: timestamptz('soak_due_at').notNull(),
    enqueuedAt: timestamptz('enqueued_at').notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.hostname, t.rolloutId], name: 'dispatch_queue_pkey' }),
    // Leads with hostname as the spec asks, and carries enqueued_at so the take (oldest entry for a
    // host) is an index scan rather than a sort.
    index('dispatch_queue_hostname_idx').on(t.hostname, t.enqueuedAt),
  ],
);

export const quarantinedClosures = pgTable(
  'quarantined_closures',
  {
    channel: text('channel').notNull(),
    closureHash: text('closure_hash').notNull(),
    quarantinedAt: timestamptz('quarantined_at').notNull(),
    triggeringEventLogSeq: bigint('triggering_event_log_seq', { mode: 'number' }).references(
      () => eventLog.seq,
      { onDelete: 'set null' },
    ),
  },
  (t) => [
    primaryKey({ columns: [t.channel, t.closureHash], name: 'quarantined_closures_pkey' }),
    index('quarantined_closures_channel_idx').on(t.channel),
  ],
);

/**
 * Never deleted or resolved while the rollout lives: a newer rollout starts at zero ("resolution by
 * replacement", spec §7.13). Outstanding count per (rollout, host) is
 * `COUNT(DISTINCT COALESCE(control_id, probe_name))`.
 */
export const probeFailures = pgTable(
  'probe_failures',
  {
    eventLogSeq: bigint('event_log_seq', { mode: 'number' }).references(() => eventLog.seq, {
      onDelete: 'cascade',
    }),
    rolloutId: text('rollout_id').notNull(),
    hostId: text('host_id').notNull(),
    probeName: text('probe_name').notNull(),
    controlId: text('control_id'),
    framework: text('framework'),
    observedAt: timestamptz('observed_at').notNull(),
  },
  (t) => [
    index('probe_failures_rollout_host_control_idx').on(t.rolloutId, t.hostId, t.controlId),
    index('probe_failures_event_log_seq_idx').on(t.eventLogSeq),
  ],
);

/** Consumed bootstrap-token nonces (spec §5.8); pruned after 24 h (§7.16). */
export const tokenReplay = pgTable(
  'token_replay',
  {
    nonce: text('nonce').primaryKey(),
    hostname: text('hostname').notNull(),
    firstSeen: timestamptz('first_seen').notNull().defaultNow(),
    /** The token's own expiry when known, so pruning can keep a nonce exactly as long as it could replay. */
    expiresAt: timestamptz('expires_at'),
  },
  (t) => [index('token_replay_first_seen_idx').on(t.firstSeen)],
);

export const certRevocations = pgTable('cert_revocations', {
  hostname: text('hostname').primaryKey(),
  /** Certificates issued before this instant are rejected. */
  notBefore: timestamptz('not_before').notNull(),
  reason: text('reason'),
  revokedAt: timestamptz('revoked_at').notNull().defaultNow(),
  revokedBy: text('revoked_by'),
});

/** Every certificate issuance (spec §1.16; the original's JSON-lines audit log, kept queryable). */
export const certAudit = pgTable(
  'cert_audit',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    issuedAt: timestamptz('issued_at').notNull(),
    /** `<enroll>` for enrollment, the mTLS CN for renewal. */
    requesterCn: text('requester_cn').notNull(),
    issuedCn: text('issued_cn').notNull(),
    serial: text('serial').notNull(),
    notAfter: timestamptz('not_after').notNull(),
    /** `enroll/nonce:<nonce>` or `renew/prev:<previous serial, or <unknown>>`. */
    context: text('context').notNull(),
  },
  (t) => [index('cert_audit_issued_cn_idx').on(t.issuedCn, t.issuedAt)],
);

/** Last heartbeat per host; the disaster-recovery path rebuilds visibility from it (spec §7.17). */
export const hostPresence = pgTable('host_presence', {
  hostname: text('hostname').primaryKey(),
  lastHeartbeatAt: timestamptz('last_heartbeat_at').notNull(),
  currentClosure: text('current_closure'),
  agentVersion: text('agent_version'),
});

/**
 * Durable timers. XState does not persist `after` timers, so the runtime writes each pending timer
 * here in the same transaction as the snapshot that armed it, and re-arms them at boot.
 */
export const actorTimers = pgTable(
  'actor_timers',
  {
    /** `rollout:<id>` or `host:<rolloutId>/<hostname>`; the owning actor row. */
    actorKey: text('actor_key').notNull(),
    /** The chart's delayed-event id; re-arming the same id replaces the timer. */
    timerId: text('timer_id').notNull(),
    /** The event delivered to the actor when the timer fires. */
    event: jsonb('event').$type<object>().notNull(),
    dueAt: timestamptz('due_at').notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.actorKey, t.timerId], name: 'actor_timers_pkey' }),
    index('actor_timers_due_at_idx').on(t.dueAt),
  ],
);

/**
 * Effects produced by one actor step, written in the step's transaction and executed afterwards,
 * so a crash between commit and execution re-runs them instead of losing them.
 */
export const effectOutbox = pgTable(
  'effect_outbox',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    actorKey: text('actor_key').notNull(),
    /** The actor's `last_event_seq` after the step that produced the effect. */
    actorSeq: bigint('actor_seq', { mode: 'number' }).notNull(),
    /** Position of the effect within that step's effect list; effects run in this order. */
    idx: integer('idx').notNull(),
    effect: jsonb('effect').$type<object>().notNull(),
    createdAt: timestamptz('created_at').notNull().defaultNow(),
    doneAt: timestamptz('done_at'),
  },
  (t) => [
    // A retried step (same actor, same seq) cannot enqueue its effects twice.
    uniqueIndex('effect_outbox_step_key').on(t.actorKey, t.actorSeq, t.idx),
    index('effect_outbox_pending_idx').on(t.id).where(sql`${t.doneAt} IS NULL`),
  ],
);

export type RolloutRow = typeof rollouts.$inferSelect;
export type NewRolloutRow = typeof rollouts.$inferInsert;
export type HostRolloutRecordRow = typeof hostRolloutRecords.$inferSelect;
export type NewHostRolloutRecordRow = typeof hostRolloutRecords.$inferInsert;
export type EventLogRow = typeof eventLog.$inferSelect;
export type NewEventLogRow = typeof eventLog.$inferInsert;
export type DispatchQueueRow = typeof dispatchQueue.$inferSelect;
export type NewDispatchQueueRow = typeof dispatchQueue.$inferInsert;
export type QuarantinedClosureRow = typeof quarantinedClosures.$inferSelect;
export type NewQuarantinedClosureRow = typeof quarantinedClosures.$inferInsert;
export type ProbeFailureRow = typeof probeFailures.$inferSelect;
export type NewProbeFailureRow = typeof probeFailures.$inferInsert;
export type TokenReplayRow = typeof tokenReplay.$inferSelect;
export type NewTokenReplayRow = typeof tokenReplay.$inferInsert;
export type CertRevocationRow = typeof certRevocations.$inferSelect;
export type NewCertRevocationRow = typeof certRevocations.$inferInsert;
export type CertAuditRow = typeof certAudit.$inferSelect;
export type NewCertAuditRow = typeof certAudit.$inferInsert;
export type HostPresenceRow = typeof hostPresence.$inferSelect;
export type NewHostPresenceRow = typeof hostPresence.$inferInsert;
export type ActorTimerRow = typeof actorTimers.$inferSelect;
export type NewActorTimerRow = typeof actorTimers.$inferInsert;
export type EffectOutboxRow = typeof effectOutbox.$inferSelect;
export type NewEffectOutboxRow = typeof effectOutbox.$inferInsert;
