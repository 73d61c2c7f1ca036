// The CP's effect applier (spec §7.8): runs the Remote* effects of host-rollout steps and feeds the
// rollout chart. The event-log rows of a step (agent_event, effect, rollout_event) are already
// written by the actor runtime in the step's own transaction (G20); what is left here is what
// needs other tables or other actors:
//
// - RemoteAppendEventLog of a ProbeResult → `probe_failures` rows (spec §7.8 (a)/(b)), linked to
//   the step's event-log row (the FK v0.2 left NULL).
// - RemoteInsertQuarantine → `quarantined_closures`, ON CONFLICT DO NOTHING (first timestamp kept).
//   The planner loads the table every tick, so the quarantine gate sees it (G1).
// - RecordTransition → `HostStateChanged` to the rollout actor, then `RolloutTerminal` once every
//   host record of that rollout is Converged (spec §7.3 step 9, §3.6).
//
// Every effect is idempotent: after a crash between commit and effect the runtime runs it again
// (actors/actorRuntime.ts). Inserts are guarded, and a rollout event that was already applied is
// refused by the rollout chart (IllegalForState) or is a no-op, both of which are fine here.
import { and, eq, sql } from 'drizzle-orm';
import { type ActorRuntime, type Clock, type OutboxEntry, rolloutKey } from '../../actors/index.ts';
import { type Database, eventLog, probeFailures, quarantinedClosures, sqlRows } from '../../db/index.ts';
import { allHostsConverged, type HostEffect } from '../../machines/index.ts';
import type { AgentEventOf, HostState, RolloutEvent } from '../../proto/index.ts';

/** The logger surface the applier uses (pino's). */
export interface ApplierLogger {
  debug(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}

/**
 * Thrown while the runtime is still starting (its outbox re-run happens inside `start`, before the
 * runtime can take sends): the effect stays in the outbox and the control plane runs it again right
 * after start (`runDeferredEffects`).
 */
export class RuntimeNotStartedError extends Error {
  constructor() {
    super('the actor runtime is still starting; the effect stays in the outbox');
    this.name = 'RuntimeNotStartedError';
  }
}

export interface CpApplierOptions {
  db: Database;
  clock: Clock;
  logger: ApplierLogger;
  /** The runtime once started; undefined while it is starting. */
  runtime: () => ActorRuntime | undefined;
  /** Called for each enforce failure recorded (`nixfleet_compliance_failure_events_total`). */
  onComplianceFailure?: (controlId: string, host: string) => void;
  /** Called after a quarantine insert (a new row or not). */
  onQuarantine?: (channel: string, closure: string) => void;
  /** Called after a host state change was fed to its rollout (the daemon plans again, spec §7.15). */
  onHostTransition?: (rolloutId: string, host: string, to: HostState) => void;
}

export type CpApplier = (entry: OutboxEntry) => Promise<void>;

type ProbeResultPayload = AgentEventOf<'ProbeResult'>;

export function createCpApplier(options: CpApplierOptions): CpApplier {
  const { db, logger } = options;

  const sendRollout = async (event: RolloutEvent): Promise<void> => {
    const runtime = options.runtime();
    if (runtime === undefined) throw new RuntimeNotStartedError();
    const rolloutId = event.type === 'SuccessorOpened' ? event.supersededRolloutId : event.rolloutId;
    // ActorStoreError propagates: the effect stays in the outbox and runs again at the next start.
    const r = await runtime.send('rollout', rolloutKey(rolloutId), event);
    if (!r.ok) {
      // A re-run after a crash, a rollout already finished (not rehydrated), or an event the
      // rollout's state ignores: the rollout chart is advisory here (spec §3.6), never an error.
      logger.debug({ rolloutId, event: event.type, refusal: r.error }, 'rollout actor refused an event');
    }
  };

  const recordProbeFailures = async (
    host: string,
    rolloutId: string,
    payload: ProbeResultPayload,
  ): Promise<void> => {
    // Spec §7.8 (a): with sub-results, one row per failing enforce sub-result, whatever the probe's
    // own mode; (b) without, one row iff the probe itself is enforce and failing.
    const subResults = payload.subResults ?? [];
    const rows =
      subResults.length > 0
        ? subResults
            .filter((s) => s.status === 'fail' && s.effectiveMode === 'enforce')
            .map((s) => ({
              controlId: s.controlId as string | null,
              framework: s.framework as string | null,
            }))
        : payload.mode === 'enforce' && payload.status === 'fail'
          ? [{ controlId: null, framework: null }]
          : [];
    if (rows.length === 0) return;
    const [logged] = await db
      .select({ seq: eventLog.seq })
      .from(eventLog)
      .where(
        and(
          eq(eventLog.kind, 'agent_event'),
          eq(eventLog.hostId, host),
          eq(eventLog.rolloutId, rolloutId),
          eq(eventLog.actorSeq, payload.seq),
        ),
      )
      .limit(1);
    const eventLogSeq = logged?.seq ?? null;
    await db.transaction(async (tx) => {
      if (eventLogSeq !== null) {
        // Idempotency: a re-run finds the rows of its event-log row and adds nothing.
        const [already] = await tx
          .select({ one: sql<number>`1` })
          .from(probeFailures)
          .where(eq(probeFailures.eventLogSeq, eventLogSeq))
          .limit(1);
        if (already !== undefined) return;
      }
      await tx.insert(probeFailures).values(
        rows.map((r) => ({
          eventLogSeq,
          rolloutId,
          hostId: host,
          probeName: payload.probeName,
          controlId: r.controlId,
          framework: r.framework,
          observedAt: new Date(payload.observedAt),
        })),
      );
    });
    for (const r of rows) options.onComplianceFailure?.(r.controlId ?? payload.probeName, host);
  };

  const maybeTerminal = async (rolloutId: string): Promise<void> => {
    // Read after this host's step committed: of two hosts converging together, the later commit
    // sees both (the earlier one may see only itself and stop here). Only one non-Converged record
    // (if any) and whether any record exists are read, not the whole rollout: this runs on every
    // convergence, and a rollout may hold 10,000 hosts.
    const [row] = await sqlRows<{ blocker: string | null; any: boolean }>(
      db,
      sql`SELECT (SELECT state FROM host_rollout_records WHERE rollout_id = ${rolloutId} AND state <> 'Converged' LIMIT 1) AS blocker,
                 EXISTS (SELECT 1 FROM host_rollout_records WHERE rollout_id = ${rolloutId}) AS any`,
    );
    const states: HostState[] =
      row?.blocker != null ? [row.blocker as HostState] : row?.any === true ? ['Converged'] : [];
    if (allHostsConverged(states)) {
      await sendRollout({ type: 'RolloutTerminal', rolloutId, at: options.clock.now().toISOString() });
    }
  };

  return async (entry) => {
    const effect = entry.effect as HostEffect | { type: string };
    switch (effect.type) {
      case 'RemoteAppendEventLog': {
        const e = effect as Extract<HostEffect, { type: 'RemoteAppendEventLog' }>;
        if (e.payload.kind === 'ProbeResult') await recordProbeFailures(e.host, e.rolloutId, e.payload);
        return;
      }
      case 'RemoteInsertQuarantine': {
        const e = effect as Extract<HostEffect, { type: 'RemoteInsertQuarantine' }>;
        await db
          .insert(quarantinedClosures)
          .values({ channel: e.channel, closureHash: e.closure, quarantinedAt: options.clock.now() })
          .onConflictDoNothing();
        options.onQuarantine?.(e.channel, e.closure);
        return;
      }
      case 'RecordTransition': {
        const e = effect as Extract<HostEffect, { type: 'RecordTransition' }>;
        await sendRollout({
          type: 'HostStateChanged',
          rolloutId: e.rolloutId,
          hostId: e.host,
          from: e.from,
          to: e.to,
          at: e.at,
        });
        if (e.to === 'Converged') await maybeTerminal(e.rolloutId);
        options.onHostTransition?.(e.rolloutId, e.host, e.to);
        return;
      }
      // Rollout effects: the store already projected state and current_wave onto the row.
      case 'RecordRolloutTransition':
      case 'UpdateCurrentWave':
        return;
      default:
        // Local* effects belong to the agent; a CP actor never produces them (spec §7.8).
        logger.warn({ key: entry.key, effect: effect.type }, 'ignoring an effect the CP does not execute');
    }
  };
}

/**
 * Runs the effects left in the outbox while the runtime was starting (see RuntimeNotStartedError).
 * Failures stay in the outbox for the next start.
 */
export async function runDeferredEffects(
  store: {
    pendingEffects(): Promise<OutboxEntry[]>;
    markEffectsDone(entries: readonly Pick<OutboxEntry, 'key' | 'version' | 'idx'>[]): Promise<void>;
  },
  applier: CpApplier,
  onError: (entry: OutboxEntry, error: unknown) => void,
): Promise<number> {
  const done: Pick<OutboxEntry, 'key' | 'version' | 'idx'>[] = [];
  for (const entry of await store.pendingEffects()) {
    try {
      await applier(entry);
      done.push({ key: entry.key, version: entry.version, idx: entry.idx });
    } catch (err) {
      onError(entry, err);
    }
  }
  if (done.length > 0) await store.markEffectsDone(done);
  return done.length;
}
