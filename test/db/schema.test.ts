import { and, eq, getTableName, is, sql } from 'drizzle-orm';
import { PgTable } from 'drizzle-orm/pg-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as dbModule from '../../db/index.ts';
import {
  countPendingMigrations,
  type Database,
  type DatabaseErrorInfo,
  databaseError,
  type EVENT_LOG_KINDS,
  eventLog,
  type HostRolloutState,
  hostRolloutRecords,
  type NewHostRolloutRecordRow,
  type NewRolloutRow,
  ROLLOUT_STATES,
  type RolloutState,
  rollouts,
  SQLSTATE,
  sqlRows,
} from '../../db/index.ts';
import { DRIVERS, type DriverDatabase } from '../support/drivers.ts';

let counter = 0;
/** Ids unique within the file, so tests sharing one database never see each other's rows. */
const uniqueId = (prefix: string) => `${prefix}-${++counter}-${Math.random().toString(36).slice(2, 8)}`;

const AT = new Date('2026-01-02T03:04:05.678Z');

function rolloutRow(overrides: Partial<NewRolloutRow> = {}): NewRolloutRow {
  return {
    rolloutId: uniqueId('stable@abc'),
    channel: 'stable',
    targetRef: 'abc',
    state: 'Opening',
    openedAt: AT,
    machineId: 'rollout',
    machineVersion: 1,
    snapshot: { status: 'active', value: 'Opening', context: {} },
    ...overrides,
  };
}

function hostRow(
  rolloutId: string,
  overrides: Partial<NewHostRolloutRecordRow> = {},
): NewHostRolloutRecordRow {
  return {
    rolloutId,
    hostname: uniqueId('host'),
    channel: 'stable',
    state: 'Pending',
    targetClosure: '/nix/store/aaaa-nixos-system',
    dispatchedAt: AT,
    machineId: 'hostRollout',
    machineVersion: 1,
    snapshot: { status: 'active', value: 'Pending', context: {} },
    ...overrides,
  };
}

/** Awaits a rejection and returns the server error behind it; fails if it resolves or is not one. */
async function serverError(promise: PromiseLike<unknown>): Promise<DatabaseErrorInfo | undefined> {
  try {
    await promise;
  } catch (error) {
    return databaseError(error);
  }
  throw new Error('expected the statement to be rejected');
}

const schemaTableNames = Object.values(dbModule as Record<string, unknown>)
  .filter((value): value is PgTable => is(value, PgTable))
  .map((table) => getTableName(table))
  .sort();

describe.each(DRIVERS)('schema on %s', (_kind, open) => {
  let database: DriverDatabase;
  let db: Database;

  beforeAll(async () => {
    database = await open();
    db = database.handle.db;
  });
  afterAll(async () => {
    await database?.drop();
  });

  it('has every table of the schema, with no migration pending', async () => {
    const tables = await sqlRows<{ name: string }>(
      db,
      sql`select table_name as name from information_schema.tables
          where table_schema = 'public' order by table_name`,
    );
    expect(schemaTableNames).toHaveLength(12);
    expect(tables.map((t) => t.name)).toEqual(schemaTableNames);
    expect(await countPendingMigrations(db)).toBe(0);
  });

  it('accepts every rollout state and rejects anything else', async () => {
    for (const state of ROLLOUT_STATES) {
      await db.insert(rollouts).values(rolloutRow({ state }));
    }
    const bad = await serverError(
      db.insert(rollouts).values(rolloutRow({ state: 'Paused' as RolloutState })),
    );
    expect(bad).toEqual({ code: SQLSTATE.checkViolation, constraint: 'rollouts_state_check' });
  });

  it('accepts a Deferred host-rollout record and rejects unknown states, policies and statuses', async () => {
    const rollout = rolloutRow();
    await db.insert(rollouts).values(rollout);
    await db.insert(hostRolloutRecords).values(hostRow(rollout.rolloutId, { state: 'Deferred' }));

    expect(
      await serverError(
        db
          .insert(hostRolloutRecords)
          .values(hostRow(rollout.rolloutId, { state: 'Rebooting' as HostRolloutState })),
      ),
    ).toEqual({ code: SQLSTATE.checkViolation, constraint: 'host_rollout_records_state_check' });
    expect(
      await serverError(
        db
          .insert(hostRolloutRecords)
          .values(hostRow(rollout.rolloutId, { policyApplied: 'ignore' as 'halt' })),
      ),
    ).toEqual({ code: SQLSTATE.checkViolation, constraint: 'host_rollout_records_policy_applied_check' });
    expect(
      await serverError(
        db.insert(hostRolloutRecords).values(hostRow(rollout.rolloutId, { status: 'zombie' as 'active' })),
      ),
    ).toEqual({ code: SQLSTATE.checkViolation, constraint: 'host_rollout_records_status_check' });
  });

  it('rejects an event-log kind outside the list, and an agent event without its idempotency key', async () => {
    expect(
      await serverError(
        db
          .insert(eventLog)
          .values({ ts: AT, kind: 'gate_decision' as (typeof EVENT_LOG_KINDS)[number], payload: {} }),
      ),
    ).toEqual({ code: SQLSTATE.checkViolation, constraint: 'event_log_kind_check' });
    expect(
      await serverError(
        db.insert(eventLog).values({ ts: AT, kind: 'agent_event', hostId: 'h', rolloutId: 'r', payload: {} }),
      ),
    ).toEqual({ code: SQLSTATE.checkViolation, constraint: 'event_log_agent_event_key_check' });
  });

  it('round-trips a persisted snapshot through JSONB as an object, not a double-encoded string', async () => {
    const snapshot = {
      status: 'active',
      value: { Soaking: 'probing' },
      historyValue: {},
      context: {
        hostname: 'web-01',
        lastEventSeq: 7,
        ratio: 0.25,
        deferred: false,
        revertedTo: null,
        probes: [{ name: 'http', status: 'pass', observedAt: '2026-01-02T03:04:05.678Z' }],
        note: 'ünïcødé ✓ "quoted" \\ backslash',
      },
      children: {},
    };
    const row = rolloutRow({ snapshot, state: 'Active' });
    await db.insert(rollouts).values(row);

    const [stored] = await db.select().from(rollouts).where(eq(rollouts.rolloutId, row.rolloutId));
    expect(stored?.snapshot).toEqual(snapshot);
    expect(stored?.openedAt).toEqual(AT);
    expect(stored?.status).toBe('active');
    expect(stored?.lastEventSeq).toBe(0);

    const [viewed] = await sqlRows<{ type: string; note: string; probe: string }>(
      db,
      sql`select jsonb_typeof(snapshot) as type,
                 snapshot->'context'->>'note' as note,
                 snapshot #>> '{context,probes,0,name}' as probe
          from rollouts where rollout_id = ${row.rolloutId}`,
    );
    expect(viewed).toEqual({ type: 'object', note: snapshot.context.note, probe: 'http' });
  });

  it('gives a host-rollout record an empty probes_json object by default', async () => {
    const rollout = rolloutRow();
    await db.insert(rollouts).values(rollout);
    const host = hostRow(rollout.rolloutId);
    await db.insert(hostRolloutRecords).values(host);
    const [stored] = await db
      .select()
      .from(hostRolloutRecords)
      .where(
        and(
          eq(hostRolloutRecords.rolloutId, rollout.rolloutId),
          eq(hostRolloutRecords.hostname, host.hostname),
        ),
      );
    expect(stored).toMatchObject({
      probesJson: {},
      lastEventSeq: 0,
      wave: 0,
      status: 'active',
      restoreError: null,
    });
  });

  it('lets only the writer holding the current step counter update an actor row', async () => {
    const row = rolloutRow();
    await db.insert(rollouts).values(row);
    const advance = (expectedSeq: number, value: string) =>
      db
        .update(rollouts)
        .set({ snapshot: { value }, state: 'Active', lastEventSeq: expectedSeq + 1, updatedAt: AT })
        .where(and(eq(rollouts.rolloutId, row.rolloutId), eq(rollouts.lastEventSeq, expectedSeq)))
        .returning({ lastEventSeq: rollouts.lastEventSeq });

    expect(await advance(0, 'Active')).toEqual([{ lastEventSeq: 1 }]);
    // A second writer that read the row before that update still believes the counter is 0.
    expect(await advance(0, 'Stale')).toEqual([]);
    const [stored] = await db.select().from(rollouts).where(eq(rollouts.rolloutId, row.rolloutId));
    expect(stored).toMatchObject({ lastEventSeq: 1, snapshot: { value: 'Active' } });
  });

  it('logs a redelivered agent event once (host, rollout, actor seq is unique among agent events)', async () => {
    const hostId = uniqueId('host');
    const rolloutId = uniqueId('stable@abc');
    const agentEvent = (actorSeq: number) => ({
      ts: AT,
      kind: 'agent_event' as const,
      hostId,
      rolloutId,
      actorSeq,
      payload: { kind: 'DispatchAck', seq: actorSeq },
    });

    await db.insert(eventLog).values(agentEvent(1));
    expect(await serverError(db.insert(eventLog).values(agentEvent(1)))).toEqual({
      code: SQLSTATE.uniqueViolation,
      constraint: 'event_log_agent_event_key',
    });
    const ignored = await db
      .insert(eventLog)
      .values(agentEvent(1))
      .onConflictDoNothing({
        target: [eventLog.hostId, eventLog.rolloutId, eventLog.actorSeq],
        where: sql`kind = 'agent_event'`,
      })
      .returning({ seq: eventLog.seq });
    expect(ignored).toEqual([]);

    // The key covers agent events only: an effect row may repeat the triple, the next seq is new.
    await db.insert(eventLog).values({ ...agentEvent(1), kind: 'effect' });
    await db.insert(eventLog).values(agentEvent(2));

    const logged = await db
      .select({ kind: eventLog.kind, actorSeq: eventLog.actorSeq })
      .from(eventLog)
      .where(and(eq(eventLog.hostId, hostId), eq(eventLog.rolloutId, rolloutId)))
      .orderBy(eventLog.seq);
    expect(logged).toEqual([
      { kind: 'agent_event', actorSeq: 1 },
      { kind: 'effect', actorSeq: 1 },
      { kind: 'agent_event', actorSeq: 2 },
    ]);
  });

  it('deletes a rollout’s host-rollout records with it', async () => {
    const rollout = rolloutRow();
    await db.insert(rollouts).values(rollout);
    await db.insert(hostRolloutRecords).values([hostRow(rollout.rolloutId), hostRow(rollout.rolloutId)]);
    await db.delete(rollouts).where(eq(rollouts.rolloutId, rollout.rolloutId));
    const left = await db
      .select({ hostname: hostRolloutRecords.hostname })
      .from(hostRolloutRecords)
      .where(eq(hostRolloutRecords.rolloutId, rollout.rolloutId));
    expect(left).toEqual([]);
  });
});
