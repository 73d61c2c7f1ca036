// `run_plan` (spec §7.7) around the pure planner (`cp/planner`): load the planner input in one
// REPEATABLE READ snapshot (including `quarantined_closures`, §10 G1, and the dispatches this
// process handed out), call `planNext`, and apply its actions in order (spec §7.8, the wiring notes
// on cp/planner/index.ts). Every state change goes through an actor or the dispatch queue; the
// planner's own decisions are logged as `plan` rows of the event log.
import { and, inArray, notInArray, or, sql } from 'drizzle-orm';
import { type ActorRuntime, hostRolloutKey, rolloutKey } from '../actors/index.ts';
import {
  dispatchQueue,
  eventLog,
  hostRolloutRecords,
  type NewEventLogRow,
  quarantinedClosures,
  rollouts,
  sqlRows,
} from '../db/index.ts';
import type { HostState, RolloutManifest, RolloutState } from '../proto/index.ts';
import { withdrawDispatch } from './dispatch/index.ts';
import {
  type HostRecordSummary,
  type OutstandingDispatch,
  type OutstandingFailures,
  type PlanAction,
  type PlannerInput,
  type PlannerOptions,
  planNext,
  type RolloutSummary,
} from './planner/index.ts';
import type { PlanContext, PlanRunner } from './planTicker.ts';
import { activationDeadline } from './recovery/index.ts';

/** Soak when a policy or wave is missing (spec §7.8 OpenRollout step 6). */
const DEFAULT_SOAK_MINUTES = 60;

export interface PlanRunnerOptions extends PlannerOptions {
  /**
   * Seconds after its dispatch was acknowledged that an Activating host is failed with
   * `activation-timeout` (spec §10 G7). Must cover closure realisation plus the agent's own
   * activation timeout (default 300 s) and verify poll. Default 900.
   */
  readonly activationTimeoutSecs?: number;
}

export const DEFAULT_ACTIVATION_TIMEOUT_SECS = 900;

const iso = (d: Date | null): string | null => (d === null ? null : d.toISOString());

/** Reads everything one tick needs from one consistent snapshot (spec §7.7 step 2). */
export async function loadPlannerInput(context: PlanContext): Promise<PlannerInput> {
  const { db, release, dispatcher } = context;
  const now = context.now.toISOString();
  const manifests: Record<string, RolloutManifest> = {};
  for (const m of release.manifests.values()) manifests[m.verified.inner.channel] = m.verified.inner;

  const loaded = await db.transaction(
    async (tx) => {
      const rolloutRows = await tx
        .select({
          rolloutId: rollouts.rolloutId,
          channel: rollouts.channel,
          state: rollouts.state,
          currentWave: rollouts.currentWave,
          terminalAt: rollouts.terminalAt,
          finishedAt: rollouts.finishedAt,
        })
        .from(rollouts)
        .where(notInArray(rollouts.state, ['Pruned']));
      // Finished rollouts keep their rows forever (until pruning); only their in-flight hosts still
      // matter to anyone (budgets count them), so their settled records stay out of the tick.
      const live = rolloutRows
        .filter((r) => !['Superseded', 'Terminal'].includes(r.state))
        .map((r) => r.rolloutId);
      const all = rolloutRows.map((r) => r.rolloutId);
      const records =
        all.length === 0
          ? []
          : await tx
              .select({
                rolloutId: hostRolloutRecords.rolloutId,
                hostname: hostRolloutRecords.hostname,
                channel: hostRolloutRecords.channel,
                state: hostRolloutRecords.state,
                targetClosure: hostRolloutRecords.targetClosure,
                dispatchAckedAt: hostRolloutRecords.dispatchAckedAt,
                soakDueAt: hostRolloutRecords.soakDueAt,
              })
              .from(hostRolloutRecords)
              .where(
                and(
                  inArray(hostRolloutRecords.rolloutId, all),
                  or(
                    live.length === 0 ? sql`false` : inArray(hostRolloutRecords.rolloutId, live),
                    inArray(hostRolloutRecords.state, ['Activating', 'Deferred', 'Soaking']),
                  ),
                ),
              );
      const quarantined = await tx
        .select({ channel: quarantinedClosures.channel, closure: quarantinedClosures.closureHash })
        .from(quarantinedClosures);
      const queued = await tx.select().from(dispatchQueue);
      const failures = await sqlRows<{ rollout_id: string; host_id: string; count: number }>(
        tx,
        sql`SELECT rollout_id, host_id, COUNT(DISTINCT COALESCE(control_id, probe_name))::int AS count
            FROM probe_failures GROUP BY rollout_id, host_id`,
      );
      return { rolloutRows, records, quarantined, queued, failures };
    },
    { isolationLevel: 'repeatable read', accessMode: 'read only' },
  );

  const rolloutSummaries: RolloutSummary[] = loaded.rolloutRows.map((r) => ({
    rolloutId: r.rolloutId,
    channel: r.channel,
    state: r.state as RolloutState,
    currentWave: r.currentWave,
    terminalAt: iso(r.terminalAt),
    finishedAt: iso(r.finishedAt),
  }));
  const hostRecords: HostRecordSummary[] = loaded.records.map((r) => ({
    rolloutId: r.rolloutId,
    hostname: r.hostname,
    channel: r.channel,
    state: r.state as HostState,
    targetClosure: r.targetClosure,
    dispatchAckedAt: iso(r.dispatchAckedAt),
    soakDueAt: iso(r.soakDueAt),
  }));
  const dispatches: OutstandingDispatch[] = loaded.queued.map((d) => ({
    hostname: d.hostname,
    rolloutId: d.rolloutId,
    targetClosure: d.targetClosure,
    soakDueAt: d.soakDueAt.toISOString(),
    queuedAt: d.enqueuedAt.toISOString(),
    takenAt: null,
  }));
  for (const t of dispatcher.taken()) {
    dispatches.push({
      hostname: t.hostname,
      rolloutId: t.rolloutId,
      targetClosure: t.targetClosure,
      soakDueAt: t.soakDueAt.toISOString(),
      queuedAt: t.enqueuedAt.toISOString(),
      takenAt: t.takenAt.toISOString(),
    });
  }
  const outstandingFailures: OutstandingFailures[] = loaded.failures.map((f) => ({
    rolloutId: f.rollout_id,
    hostname: f.host_id,
    count: Number(f.count),
  }));
  return {
    fleet: release.fleet.verified.inner,
    manifests,
    rollouts: rolloutSummaries,
    hostRecords,
    quarantined: loaded.quarantined,
    dispatches,
    outstandingFailures,
    now,
  };
}

/** The planner behind the daemon's plan ticker (the `PlanRunner` seam of planTicker.ts). */
export function createPlanRunner(options: PlanRunnerOptions = {}): PlanRunner & {
  /** The actions of the last tick, for tests and the inspector. */
  lastActions(): readonly PlanAction[];
} {
  let last: readonly PlanAction[] = [];
  // DeferDispatch repeats every tick while a host waits; log it only when the reason changes
  // (spec §7.8 [RECOMMEND]), or the event log grows by hosts × ticks.
  const lastDefer = new Map<string, string>();

  return {
    lastActions: () => last,
    async tick(context) {
      let input = await loadPlannerInput(context);
      if (
        await enforceActivationDeadlines(
          context,
          input,
          options.activationTimeoutSecs ?? DEFAULT_ACTIVATION_TIMEOUT_SECS,
        )
      ) {
        // A host just failed: this tick's gates (halt, budgets) must see it.
        input = await loadPlannerInput(context);
      }
      const logRows: NewEventLogRow[] = [];
      const all: PlanAction[] = [];
      // A rollout opened in this tick has no row in the input the planner saw, so its hosts are
      // decided in a second pass over a fresh read: a new release dispatches its first wave at
      // once instead of one plan interval later.
      for (let pass = 0; pass < 2; pass++) {
        if (pass > 0) input = await loadPlannerInput(context);
        const actions = planNext(input, options);
        all.push(...actions);
        for (const action of actions) {
          const row = await apply(context, input, action, lastDefer);
          if (row !== null) logRows.push(row);
        }
        if (!actions.some((a) => a.type === 'OpenRollout')) break;
      }
      last = all;
      if (logRows.length > 0) await context.db.insert(eventLog).values(logRows);
    },
  };
}

/** Fails Activating records past their deadline through their actor (G7); true if any fired. */
async function enforceActivationDeadlines(
  context: PlanContext,
  input: PlannerInput,
  timeoutSecs: number,
): Promise<boolean> {
  let fired = false;
  for (const r of input.hostRecords) {
    if (r.state !== 'Activating') continue;
    const key = hostRolloutKey(r.rolloutId, r.hostname);
    const snapshot = context.runtime.snapshotOf('hostRollout', key);
    if (snapshot === undefined) continue;
    const event = activationDeadline(snapshot, input.now, timeoutSecs);
    if (event === null) continue;
    const result = await context.runtime.send('hostRollout', key, event);
    if (result.ok) {
      fired = true;
      context.logger.warn(
        { host: r.hostname, rolloutId: r.rolloutId, timeoutSecs },
        'activation deadline passed',
      );
    }
  }
  return fired;
}

async function apply(
  context: PlanContext,
  input: PlannerInput,
  action: PlanAction,
  lastDefer: Map<string, string>,
): Promise<NewEventLogRow | null> {
  const { runtime, dispatcher, db, logger, metrics } = context;
  const ts = context.now;
  const planRow = (hostId: string | null, rolloutId: string | null, payload: object): NewEventLogRow => ({
    ts,
    kind: 'plan',
    hostId,
    rolloutId,
    payload,
  });
  switch (action.type) {
    case 'Notice':
      logger.warn({ code: action.code, channel: action.channel, rolloutId: action.rolloutId }, action.detail);
      return null;
    case 'OpenRollout': {
      const hosts = await openRollout(runtime, input, action.rolloutId, action.channel, action.targetRef, ts);
      logger.info({ rolloutId: action.rolloutId, hosts: hosts.length }, 'rollout opened');
      return planRow(null, action.rolloutId, { action: 'OpenRollout', ...action, hosts });
    }
    case 'RolloutEvent': {
      const e = action.event;
      const target = e.type === 'SuccessorOpened' ? e.supersededRolloutId : e.rolloutId;
      const r = await runtime.send('rollout', rolloutKey(target), e);
      if (!r.ok)
        logger.debug({ rolloutId: target, event: e.type, refusal: r.error }, 'rollout actor refused');
      return null;
    }
    case 'QueueDispatch':
      await dispatcher.enqueue({
        hostname: action.host,
        rolloutId: action.rolloutId,
        targetClosure: action.targetClosure,
        soakDueAt: new Date(action.soakDueAt),
        enqueuedAt: ts,
      });
      lastDefer.delete(`${action.rolloutId}\u0000${action.host}`);
      return planRow(action.host, action.rolloutId, { action: 'QueueDispatch', ...action });
    case 'DeferDispatch': {
      metrics.gateBlocks.inc({ gate: action.gate });
      const key = `${action.rolloutId}\u0000${action.host}`;
      const said = `${action.gate}\u0000${action.reason}`;
      if (lastDefer.get(key) === said) return null;
      lastDefer.set(key, said);
      return planRow(action.host, action.rolloutId, {
        action: 'DeferDispatch',
        gate: action.gate,
        reason: action.reason,
      });
    }
    case 'WithdrawDispatch':
      await withdrawDispatch(db, action.host, action.rolloutId);
      dispatcher.forget(action.host, action.rolloutId);
      // An acknowledged dispatch is routine; only a withdrawal that undoes a queued one is news.
      return action.cause === 'acked'
        ? null
        : planRow(action.host, action.rolloutId, { action: 'WithdrawDispatch', ...action });
  }
}

/**
 * OpenRollout (spec §7.8): the rollout actor, then one Pending host actor per `hostSet` entry of
 * the channel's manifest. Spawning is insert-if-absent (the spec's [RECOMMEND]): a re-applied
 * OpenRollout after a crash never resets a host's progress.
 */
async function openRollout(
  runtime: ActorRuntime,
  input: PlannerInput,
  rolloutId: string,
  channel: string,
  targetRef: string,
  now: Date,
): Promise<string[]> {
  const at = now.toISOString();
  await runtime.spawn('rollout', { rolloutId, channel, targetRef, openedAt: at });
  const manifest = input.manifests[channel];
  if (manifest === undefined) return [];
  const policyName = input.fleet.channels[channel]?.rolloutPolicy;
  const policy = policyName === undefined ? undefined : input.fleet.rolloutPolicies[policyName];
  const hosts: string[] = [];
  for (const entry of manifest.hostSet) {
    const soakMinutes = policy?.waves[entry.waveIndex]?.soakMinutes ?? DEFAULT_SOAK_MINUTES;
    await runtime.spawn('hostRollout', {
      rolloutId,
      hostname: entry.hostname,
      channel,
      targetClosure: entry.targetClosure,
      dispatchedAt: at,
      soakDueAt: new Date(now.getTime() + soakMinutes * 60_000).toISOString(),
      wave: entry.waveIndex,
      onHealthFailure: policy?.onHealthFailure ?? 'halt',
      // G8: the chart re-anchors the soak at activation completion, so late waves soak in full.
      soakMinutes,
    });
    const joined = await runtime.send('rollout', rolloutKey(rolloutId), {
      type: 'HostJoined',
      rolloutId,
      hostId: entry.hostname,
      wave: entry.waveIndex,
      at,
    });
    if (!joined.ok && joined.error.code !== 'IllegalForState') {
      throw new Error(
        `rollout ${rolloutId} refused HostJoined for ${entry.hostname}: ${JSON.stringify(joined.error)}`,
      );
    }
    hosts.push(entry.hostname);
  }
  return hosts;
}
