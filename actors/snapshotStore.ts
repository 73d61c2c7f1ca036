// Where actor snapshots live. The CP keeps them in PostgreSQL (or embedded PGlite); the agent keeps
// them in its state dir. The runtime only needs this interface, so both sides run the same registry.
import type { ActorKindName } from './actorKinds.ts';

/** An actor as stored: its kind, fencing version and persisted snapshot (validated on restore). */
export interface StoredActor {
  key: string;
  kind: ActorKindName;
  version: number;
  persisted: unknown;
}

/** An event-log row a step produces (CP history; the agent's file store ignores these). */
export interface LogRow {
  kind: 'agent_event' | 'effect' | 'rollout_event';
  hostId: string | null;
  rolloutId: string | null;
  /** The agent's seq for `agent_event` rows: the idempotency key with (host, rollout). */
  actorSeq: number | null;
  payload: Record<string, unknown>;
}

/** A durable timer: `event` is delivered to actor `key` once `dueAt` has passed, even after restarts. */
export interface TimerRow {
  key: string;
  timerId: string;
  event: { type: string } & Record<string, unknown>;
  dueAt: Date;
}

export interface OutboxEntry {
  key: string;
  /** The actor version of the step that produced it; with `idx`, the effect's idempotency key. */
  version: number;
  idx: number;
  effect: { type: string } & Record<string, unknown>;
}

/** Identifies one outbox effect that has run. */
export type EffectMark = Pick<OutboxEntry, 'key' | 'version' | 'idx'>;

/** Everything one accepted step writes, atomically. */
export interface ActorWrite {
  key: string;
  kind: ActorKindName;
  /** The version the step was computed from; `null` creates the actor (and fails if it exists). */
  expectedVersion: number | null;
  version: number;
  state: string;
  done: boolean;
  persisted: object;
  logRows: readonly LogRow[];
  /** Effects the side's applier still has to run. */
  effects: readonly ({ type: string } & Record<string, unknown>)[];
  armTimers: readonly TimerRow[];
  cancelTimers: readonly string[];
  at: Date;
}

/**
 * `ok`: written. `conflict`: the stored version was not `expectedVersion` (another writer got there
 * first, or a previous commit's acknowledgement was lost) — nothing of this write was applied.
 */
export type WriteOutcome = 'ok' | 'conflict';

export interface SnapshotStore {
  /** Every actor that is not done or quarantined, for rehydration at start. */
  loadActive(): Promise<StoredActor[]>;
  load(key: string): Promise<StoredActor | null>;
  /**
   * Applies the writes in one transaction. Each is fenced on its own: a conflicting write is
   * skipped and reported, the others commit. A failure of the transaction itself rejects, and
   * then none of the batch was written. `effectsDone` rides along: marking effects as run costs
   * no commit of its own.
   */
  write(batch: readonly ActorWrite[], effectsDone?: readonly EffectMark[]): Promise<WriteOutcome[]>;
  /** Marks a row that cannot be restored so it is reported and left alone, not retried forever. */
  quarantine(key: string, kind: ActorKindName, reason: string): Promise<void>;
  pendingEffects(): Promise<OutboxEntry[]>;
  markEffectsDone(entries: readonly EffectMark[]): Promise<void>;
  loadTimers(): Promise<TimerRow[]>;
  deleteTimer(key: string, timerId: string): Promise<void>;
  close(): Promise<void>;
}
