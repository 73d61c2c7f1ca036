// The actor runtime shared by the CP and the agent: one actor per rollout and per (rollout, host),
// each with a mailbox (one mutator), every accepted step made durable before anyone sees it, then
// its effects handed to the side's applier.
//
// Crash windows and why nothing is lost or doubled:
// - Crash before the write commits: the step never happened; the sender was not acknowledged and
//   re-sends; the chart accepts it as new.
// - Crash after commit, before the effects ran: the effects are in the outbox (same transaction)
//   and are run again at start. Appliers are idempotent on (key, version, idx).
// - Commit succeeded but its acknowledgement was lost: memory is behind the store. The next write
//   for that actor is fenced on the old version, conflicts, and the actor is reloaded from the
//   store; a re-sent host event is then a SeqRegression (duplicate), never applied twice.
import {
  type ActorKindName,
  type AnyActorKind,
  type HostRolloutKind,
  hostRolloutKind,
  type RolloutKind,
  rolloutKind,
} from './actorKinds.ts';
import { type Clock, systemClock } from './clock.ts';
import { ActorStoreError, type RuntimeRefusal } from './errors.ts';
import { GroupCommitter } from './groupCommitter.ts';
import type { InspectedSnapshot, InspectionBus } from './inspectionBus.ts';
import { KeyedMailbox } from './keyedMailbox.ts';
import { logRowsForEffects } from './logRows.ts';
import type {
  ActorWrite,
  EffectMark,
  OutboxEntry,
  SnapshotStore,
  StoredActor,
  TimerRow,
} from './snapshotStore.ts';

type KindOf<N extends ActorKindName> = N extends 'hostRollout' ? HostRolloutKind : RolloutKind;
type SnapshotOf<N extends ActorKindName> = ReturnType<KindOf<N>['create']>;
type EventOf<N extends ActorKindName> = Parameters<KindOf<N>['step']>[1];
type StepOf<N extends ActorKindName> = ReturnType<KindOf<N>['step']>;
type EffectOf<N extends ActorKindName> = Extract<StepOf<N>, { ok: true }>['effects'][number];
type ChartErrorOf<N extends ActorKindName> = Extract<StepOf<N>, { ok: false }>['error'];

export type SendResult<N extends ActorKindName> =
  | { ok: true; snapshot: SnapshotOf<N>; effects: EffectOf<N>[]; version: number }
  | { ok: false; error: ChartErrorOf<N> | RuntimeRefusal };

export interface RestoreFailure {
  key: string;
  kind: ActorKindName;
  reason: string;
}

/** Runs one effect of one step. Must be idempotent: after a crash it runs again. */
export type EffectApplier = (entry: OutboxEntry) => Promise<void> | void;

export interface ActorRuntimeOptions {
  store: SnapshotStore;
  /** The side's effect applier (agent: Local* effects; CP: Remote* effects). Default: none to run. */
  applyEffect?: EffectApplier;
  clock?: Clock;
  inspection?: InspectionBus;
  /** Called for each stored actor that failed to restore and was quarantined. */
  onRestoreFailure?: (failure: RestoreFailure) => void;
  /** Called when an effect's applier throws; the effect stays in the outbox for the next start. */
  onEffectError?: (entry: OutboxEntry, error: unknown) => void;
  /** Writes per transaction under load. */
  maxBatch?: number;
}

interface LiveActor {
  kind: AnyActorKind;
  snapshot: SnapshotOf<ActorKindName>;
  version: number;
}

interface SendOptions {
  /** Durable timers armed in the same transaction as the step (only if the step is accepted). */
  armTimers?: readonly Omit<TimerRow, 'key'>[];
  cancelTimers?: readonly string[];
}

const KINDS: Record<ActorKindName, AnyActorKind> = { hostRollout: hostRolloutKind, rollout: rolloutKind };
const MAX_CONFLICT_RETRIES = 3;
/** How long applied-effect marks wait for a step's transaction before being written alone. */
const MARK_IDLE_MS = 200;

export class ActorRuntime {
  readonly #store: SnapshotStore;
  readonly #clock: Clock;
  readonly #applyEffect: EffectApplier | undefined;
  readonly #inspection: InspectionBus | undefined;
  readonly #options: ActorRuntimeOptions;
  readonly #mailbox = new KeyedMailbox();
  readonly #committer: GroupCommitter;
  readonly #actors = new Map<string, LiveActor>();
  readonly #quarantined = new Map<string, string>();
  readonly #timers = new Map<string, unknown>();
  /** Per actor, how many of its steps failed in the store (see `send`). */
  readonly #failures = new Map<string, number>();
  #doneEffects: EffectMark[] = [];
  #markingDone: Promise<void> | null = null;
  #markTimer: unknown = null;
  #stopped = false;

  private constructor(options: ActorRuntimeOptions) {
    this.#options = options;
    this.#store = options.store;
    this.#clock = options.clock ?? systemClock;
    this.#applyEffect = options.applyEffect;
    this.#inspection = options.inspection;
    this.#committer = new GroupCommitter(
      options.store,
      {
        take: () => this.#doneEffects.splice(0),
        giveBack: (marks) => this.#doneEffects.unshift(...marks),
      },
      options.maxBatch,
    );
  }

  /** Rehydrates every active actor, re-arms durable timers and re-runs effects left in the outbox. */
  static async start(options: ActorRuntimeOptions): Promise<ActorRuntime> {
    const runtime = new ActorRuntime(options);
    await runtime.#rehydrate();
    await runtime.#rerunOutbox();
    await runtime.#rearmTimers();
    return runtime;
  }

  get size(): number {
    return this.#actors.size;
  }

  get quarantined(): ReadonlyMap<string, string> {
    return this.#quarantined;
  }

  has(key: string): boolean {
    return this.#actors.has(key);
  }

  keys(kind?: ActorKindName): string[] {
    return [...this.#actors.entries()]
      .filter(([, a]) => kind === undefined || a.kind.name === kind)
      .map(([k]) => k);
  }

  snapshotOf<N extends ActorKindName>(kind: N, key: string): SnapshotOf<N> | undefined {
    const a = this.#actors.get(key);
    return a !== undefined && a.kind.name === kind ? (a.snapshot as SnapshotOf<N>) : undefined;
  }

  versionOf(key: string): number | undefined {
    return this.#actors.get(key)?.version;
  }

  /** Creates the actor unless it exists; either way resolves to its current snapshot. */
  spawn<N extends ActorKindName>(kind: N, input: Parameters<KindOf<N>['create']>[0]): Promise<SnapshotOf<N>> {
    const k = KINDS[kind] as KindOf<N>;
    const key = k.keyOf(input as never);
    return this.#mailbox.run(key, async () => {
      const existing = this.#actors.get(key);
      if (existing !== undefined) return existing.snapshot as SnapshotOf<N>;
      const snapshot = k.create(input as never) as SnapshotOf<N>;
      const write = this.#writeFor(k, key, null, 0, snapshot, [], {});
      const outcome = await this.#commit(write);
      if (outcome === 'conflict') {
        // Someone else (another CP process) created it first: adopt theirs.
        const loaded = await this.#reload(key);
        if (loaded === undefined)
          throw new ActorStoreError(`actor ${key} conflicted on create but cannot be loaded`);
        return loaded.snapshot as SnapshotOf<N>;
      }
      this.#actors.set(key, { kind: k, snapshot, version: 0 });
      this.#publishActor(key, k, snapshot, 'spawn');
      return snapshot;
    });
  }

  /**
   * Steps one actor. Resolves once the step is durable (or refused); rejects with
   * ActorStoreError when the store is unreachable, in which case nothing was applied.
   */
  send<N extends ActorKindName>(
    kind: N,
    key: string,
    event: EventOf<N>,
    options: SendOptions = {},
  ): Promise<SendResult<N>> {
    // Steps queued behind a failed one must not overtake it: had they run, the failed event's
    // retry would arrive after them and be lost as a duplicate. So a store failure fails every
    // send already queued for that actor, and the sender re-sends them in order.
    const epoch = this.#failures.get(key) ?? 0;
    return this.#mailbox.run(key, async () => {
      if ((this.#failures.get(key) ?? 0) !== epoch) {
        throw new ActorStoreError(`an earlier step of ${key} failed; re-send this event after it`);
      }
      try {
        return await this.#step(kind, key, event, options);
      } catch (err) {
        if (err instanceof ActorStoreError) this.#failures.set(key, (this.#failures.get(key) ?? 0) + 1);
        throw err;
      }
    });
  }

  async #step<N extends ActorKindName>(
    kind: N,
    key: string,
    event: EventOf<N>,
    options: SendOptions,
  ): Promise<SendResult<N>> {
    for (let attempt = 0; ; attempt++) {
      const reason = this.#quarantined.get(key);
      if (reason !== undefined) return { ok: false, error: { code: 'Quarantined', key, reason } };
      const actor = this.#actors.get(key);
      if (actor === undefined) return { ok: false, error: { code: 'UnknownActor', key } };
      if (actor.kind.name !== kind) {
        return { ok: false, error: { code: 'WrongKind', key, expected: kind, actual: actor.kind.name } };
      }
      const k = actor.kind as KindOf<N>;
      this.#publish(() => ({ type: '@xstate.event', actorId: key, event: event as never }));
      const r = (k.step as (s: unknown, e: unknown) => StepOf<N>)(actor.snapshot, event);
      if (!r.ok) {
        this.#publish(() => ({
          type: '@nixfleet.rejected',
          actorId: key,
          event: event as never,
          error: r.error as never,
        }));
        return { ok: false, error: r.error };
      }
      const version = k.nextVersion(actor.version, r.snapshot as never);
      const write = this.#writeFor(k, key, actor.version, version, r.snapshot, r.effects, options);
      const outcome = await this.#commit(write);
      if (outcome === 'conflict') {
        // Memory is behind the store (lost ack, or another writer): reload and decide again.
        if (attempt >= MAX_CONFLICT_RETRIES) throw new ActorStoreError(`actor ${key} keeps conflicting`);
        await this.#reload(key);
        continue;
      }
      const from = k.stateOf(actor.snapshot as never);
      actor.snapshot = r.snapshot;
      actor.version = version;
      this.#arm(write.armTimers);
      for (const id of write.cancelTimers) this.#disarm(key, id);
      this.#publish(() => ({
        type: '@xstate.snapshot',
        actorId: key,
        event: event as never,
        snapshot: inspected(k, r.snapshot),
        from,
        to: k.stateOf(r.snapshot as never),
        effects: r.effects,
      }));
      await this.#runEffects(
        write.effects.map((effect, idx) => ({ key, version, idx, effect })),
        true,
      );
      return {
        ok: true,
        snapshot: r.snapshot as SnapshotOf<N>,
        effects: r.effects as EffectOf<N>[],
        version,
      };
    }
  }

  #writeFor(
    k: AnyActorKind,
    key: string,
    expectedVersion: number | null,
    version: number,
    snapshot: unknown,
    effects: readonly unknown[],
    options: SendOptions,
  ): ActorWrite {
    const fx = effects as ({ type: string } & Record<string, unknown>)[];
    return {
      key,
      kind: k.name,
      expectedVersion,
      version,
      state: k.stateOf(snapshot as never),
      done: k.isDone(snapshot as never),
      persisted: k.persist(snapshot as never),
      logRows: logRowsForEffects(fx),
      effects: this.#applyEffect === undefined ? [] : fx,
      armTimers: (options.armTimers ?? []).map((t) => ({ ...t, key })),
      cancelTimers: options.cancelTimers ?? [],
      at: this.#clock.now(),
    };
  }

  async #commit(write: ActorWrite) {
    try {
      return await this.#committer.commit(write);
    } catch (err) {
      if (err instanceof ActorStoreError) throw err;
      throw new ActorStoreError(`could not persist a step of ${write.key}: ${String(err)}`, { cause: err });
    }
  }

  async #reload(key: string): Promise<LiveActor | undefined> {
    let row: StoredActor | null;
    try {
      row = await this.#store.load(key);
    } catch (err) {
      // Same contract as a failed write: nothing was applied (memory stays behind the store, so
      // the next step conflicts and reloads again), and the sender may retry.
      throw new ActorStoreError(`could not reload ${key}: ${String(err)}`, { cause: err });
    }
    if (row === null) {
      this.#actors.delete(key);
      return undefined;
    }
    const live = this.#restoreRow(row);
    return live;
  }

  #restoreRow(row: StoredActor): LiveActor | undefined {
    const k = KINDS[row.kind];
    const r = k.restore(row.persisted);
    if (!r.ok) {
      this.#quarantined.set(row.key, r.error.message);
      this.#actors.delete(row.key);
      return undefined;
    }
    const live: LiveActor = {
      kind: k,
      snapshot: r.snapshot as SnapshotOf<ActorKindName>,
      version: row.version,
    };
    this.#actors.set(row.key, live);
    return live;
  }

  async #rehydrate(): Promise<void> {
    const rows = await this.#store.loadActive();
    for (const row of rows) {
      const live = this.#restoreRow(row);
      if (live === undefined) {
        const reason = this.#quarantined.get(row.key) ?? 'unknown restore failure';
        await this.#store.quarantine(row.key, row.kind, reason);
        this.#options.onRestoreFailure?.({ key: row.key, kind: row.kind, reason });
        continue;
      }
      this.#publishActor(row.key, live.kind, live.snapshot, 'rehydrate');
    }
  }

  async #rerunOutbox(): Promise<void> {
    if (this.#applyEffect === undefined) return;
    await this.#runEffects(await this.#store.pendingEffects(), false);
  }

  async #runEffects(entries: readonly OutboxEntry[], live: boolean): Promise<void> {
    if (this.#applyEffect === undefined || entries.length === 0) return;
    for (const entry of entries) {
      try {
        await this.#applyEffect(entry);
        this.#doneEffects.push({ key: entry.key, version: entry.version, idx: entry.idx });
      } catch (err) {
        // Left in the outbox: the next start runs it again.
        this.#options.onEffectError?.(entry, err);
      }
    }
    if (live) this.#scheduleMarkDone();
    else await this.flushEffectMarks();
  }

  /**
   * Marks ride along with the next step's transaction. Only when no step comes for a while are
   * they written on their own; until then a crash merely re-runs those (idempotent) effects.
   */
  #scheduleMarkDone(): void {
    if (this.#markTimer !== null || this.#markingDone !== null) return;
    this.#markTimer = this.#idleTimer(() => {
      this.#markTimer = null;
      this.#writeMarks();
    }, MARK_IDLE_MS);
  }

  #idleTimer(fn: () => void, ms: number): unknown {
    const t = setTimeout(fn, ms);
    t.unref();
    return t;
  }

  #writeMarks(): void {
    // With nothing to write, the async body below would finish synchronously, clear
    // #markingDone before the assignment stores its settled promise, and leave it set for good:
    // flushEffectMarks() would then spin on it forever (a microtask loop that starves timers).
    if (this.#markingDone !== null || this.#doneEffects.length === 0) return;
    this.#markingDone = (async () => {
      while (this.#doneEffects.length > 0) {
        const batch = this.#doneEffects;
        this.#doneEffects = [];
        try {
          await this.#store.markEffectsDone(batch);
        } catch {
          // Unmarked effects run again at the next start; appliers are idempotent.
        }
      }
      this.#markingDone = null;
    })();
  }

  /** Waits until every applied effect is marked done in the store. */
  async flushEffectMarks(): Promise<void> {
    if (this.#markTimer !== null) {
      clearTimeout(this.#markTimer as NodeJS.Timeout);
      this.#markTimer = null;
    }
    this.#writeMarks();
    while (this.#markingDone !== null) await this.#markingDone;
  }

  async #rearmTimers(): Promise<void> {
    this.#arm(await this.#store.loadTimers());
  }

  #arm(timers: readonly TimerRow[]): void {
    for (const t of timers) {
      const id = `${t.key}\u0000${t.timerId}`;
      this.#disarm(t.key, t.timerId);
      const delay = Math.max(0, t.dueAt.getTime() - this.#clock.now().getTime());
      this.#timers.set(
        id,
        this.#clock.setTimeout(() => void this.#fire(t), delay),
      );
    }
  }

  #disarm(key: string, timerId: string): void {
    const id = `${key}\u0000${timerId}`;
    const handle = this.#timers.get(id);
    if (handle !== undefined) this.#clock.clearTimeout(handle);
    this.#timers.delete(id);
  }

  /** Delivers a due timer. Host events get the next seq at fire time: timers synthesise events. */
  async #fire(t: TimerRow): Promise<void> {
    this.#timers.delete(`${t.key}\u0000${t.timerId}`);
    if (this.#stopped) return;
    const actor = this.#actors.get(t.key);
    if (actor === undefined) {
      await this.#store.deleteTimer(t.key, t.timerId).catch(() => undefined);
      return;
    }
    const kind = actor.kind.name;
    const result = await this.#mailbox.run(t.key, () => {
      const current = this.#actors.get(t.key);
      const event =
        kind === 'hostRollout' && current !== undefined
          ? { ...t.event, seq: (current.snapshot as SnapshotOf<'hostRollout'>).context.lastEventSeq + 1 }
          : t.event;
      return this.#step(kind, t.key, event as never, { cancelTimers: [t.timerId] }).catch(() => null);
    });
    // Refused (the actor moved on) or failed: the timer is spent either way.
    if (result === null || !result.ok) await this.#store.deleteTimer(t.key, t.timerId).catch(() => undefined);
  }

  /** Stops timers, waits for queued steps and effect marks. The store stays open (caller owns it). */
  async stop(): Promise<void> {
    this.#stopped = true;
    for (const handle of this.#timers.values()) this.#clock.clearTimeout(handle);
    this.#timers.clear();
    await this.#mailbox.drain();
    await this.flushEffectMarks();
  }

  #publishActor(key: string, k: AnyActorKind, snapshot: unknown, reason: 'spawn' | 'rehydrate'): void {
    this.#publish(() => ({
      type: '@xstate.actor',
      actorId: key,
      kind: k.name,
      machineId: k.machineId,
      machineVersion: k.machineVersion,
      snapshot: inspected(k, snapshot),
      reason,
    }));
  }

  #publish(frame: () => Parameters<InspectionBus['publish']>[0]): void {
    // Frames are built only when someone is watching: the hot path pays nothing otherwise.
    if (this.#inspection?.hasListeners === true) this.#inspection.publish(frame());
  }
}

function inspected(k: AnyActorKind, snapshot: unknown): InspectedSnapshot {
  const p = k.persist(snapshot as never);
  return { value: p.value, status: p.status, context: p.context };
}
