// The CP's snapshot store on PostgreSQL or embedded PGlite (one code path, drizzle over either
// driver). Batches are written with set-based statements over `jsonb_to_recordset`, so a group
// commit of N steps costs a handful of statements, not N round trips.
import { type SQL, sql } from 'drizzle-orm';
import { type Database, sqlRows } from '../../db/index.ts';
import type { PersistedHostRollout, PersistedRollout } from '../../machines/index.ts';
import type { ActorKindName } from '../actorKinds.ts';
import type {
  ActorWrite,
  EffectMark,
  OutboxEntry,
  SnapshotStore,
  StoredActor,
  TimerRow,
  WriteOutcome,
} from '../snapshotStore.ts';
import { HOST_COLUMNS, hostRow, ROLLOUT_COLUMNS, rolloutRow } from './actorRows.ts';

type Columns = typeof HOST_COLUMNS | typeof ROLLOUT_COLUMNS;

interface TableSpec {
  table: string;
  columns: Columns;
  pk: readonly string[];
}

const HOSTS: TableSpec = {
  table: 'host_rollout_records',
  columns: HOST_COLUMNS,
  pk: ['rollout_id', 'hostname'],
};
const ROLLOUTS: TableSpec = { table: 'rollouts', columns: ROLLOUT_COLUMNS, pk: ['rollout_id'] };

/** Parses a runtime key back into its table and primary key. */
export function parseActorKey(key: string): {
  kind: ActorKindName;
  rolloutId: string;
  hostname: string | null;
} {
  if (key.startsWith('rollout:')) return { kind: 'rollout', rolloutId: key.slice(8), hostname: null };
  if (key.startsWith('host:')) {
    const rest = key.slice(5);
    const slash = rest.indexOf('/');
    if (slash > 0)
      return { kind: 'hostRollout', rolloutId: rest.slice(0, slash), hostname: rest.slice(slash + 1) };
  }
  throw new Error(`not an actor key: ${key}`);
}

const json = (value: unknown): SQL => sql`${JSON.stringify(value)}::jsonb`;
const recordset = (spec: TableSpec, extra: string) =>
  sql.raw(`(${[...spec.columns.map(([c, t]) => `${c} ${t}`), extra].filter(Boolean).join(', ')})`);

export class PostgresSnapshotStore implements SnapshotStore {
  readonly #db: Database;

  constructor(db: Database) {
    this.#db = db;
  }

  async loadActive(): Promise<StoredActor[]> {
    const [rollouts, hosts] = await Promise.all([
      sqlRows<{ rollout_id: string; v: number; snapshot: unknown }>(
        this.#db,
        sql`SELECT rollout_id, last_event_seq::float8 AS v, snapshot FROM rollouts WHERE status = 'active'`,
      ),
      sqlRows<{ rollout_id: string; hostname: string; v: number; snapshot: unknown }>(
        this.#db,
        sql`SELECT rollout_id, hostname, last_event_seq::float8 AS v, snapshot
            FROM host_rollout_records WHERE status = 'active'`,
      ),
    ]);
    return [
      ...rollouts.map((r) => ({
        key: `rollout:${r.rollout_id}`,
        kind: 'rollout' as const,
        version: Number(r.v),
        persisted: parseJson(r.snapshot),
      })),
      ...hosts.map((r) => ({
        key: `host:${r.rollout_id}/${r.hostname}`,
        kind: 'hostRollout' as const,
        version: Number(r.v),
        persisted: parseJson(r.snapshot),
      })),
    ];
  }

  async load(key: string): Promise<StoredActor | null> {
    const k = parseActorKey(key);
    const rows =
      k.kind === 'rollout'
        ? await sqlRows<{ v: number; snapshot: unknown; status: string }>(
            this.#db,
            sql`SELECT last_event_seq::float8 AS v, snapshot, status FROM rollouts WHERE rollout_id = ${k.rolloutId}`,
          )
        : await sqlRows<{ v: number; snapshot: unknown; status: string }>(
            this.#db,
            sql`SELECT last_event_seq::float8 AS v, snapshot, status FROM host_rollout_records
                WHERE rollout_id = ${k.rolloutId} AND hostname = ${k.hostname}`,
          );
    const row = rows[0];
    if (row === undefined || row.status === 'quarantined') return null;
    return { key, kind: k.kind, version: Number(row.v), persisted: parseJson(row.snapshot) };
  }

  async write(
    batch: readonly ActorWrite[],
    effectsDone: readonly EffectMark[] = [],
  ): Promise<WriteOutcome[]> {
    if (batch.length === 0 && effectsDone.length === 0) return [];
    return this.#db.transaction(async (tx) => {
      await markDone(tx, effectsDone);
      const written = new Set<string>();
      for (const spec of [ROLLOUTS, HOSTS]) {
        const kind: ActorKindName = spec === ROLLOUTS ? 'rollout' : 'hostRollout';
        const mine = batch.filter((w) => w.kind === kind);
        const creates = mine.filter((w) => w.expectedVersion === null);
        const updates = mine.filter((w) => w.expectedVersion !== null);
        for (const key of await insertActors(tx, spec, creates)) written.add(key);
        for (const key of await updateActors(tx, spec, updates)) written.add(key);
      }
      const ok = batch.filter((w) => written.has(w.key));
      await insertLogRows(tx, ok);
      await insertOutbox(tx, ok);
      await writeTimers(tx, ok);
      return batch.map((w) => (written.has(w.key) ? 'ok' : 'conflict'));
    });
  }

  async quarantine(key: string, _kind: ActorKindName, reason: string): Promise<void> {
    const k = parseActorKey(key);
    if (k.kind === 'rollout') {
      await this.#db.execute(
        sql`UPDATE rollouts SET status = 'quarantined', restore_error = ${reason} WHERE rollout_id = ${k.rolloutId}`,
      );
    } else {
      await this.#db.execute(
        sql`UPDATE host_rollout_records SET status = 'quarantined', restore_error = ${reason}
            WHERE rollout_id = ${k.rolloutId} AND hostname = ${k.hostname}`,
      );
    }
  }

  async pendingEffects(): Promise<OutboxEntry[]> {
    const rows = await sqlRows<{ actor_key: string; v: number; idx: number; effect: unknown }>(
      this.#db,
      sql`SELECT actor_key, actor_seq::float8 AS v, idx, effect FROM effect_outbox WHERE done_at IS NULL ORDER BY id`,
    );
    return rows.map((r) => ({
      key: r.actor_key,
      version: Number(r.v),
      idx: Number(r.idx),
      effect: parseJson(r.effect) as OutboxEntry['effect'],
    }));
  }

  async markEffectsDone(entries: readonly EffectMark[]): Promise<void> {
    await markDone(this.#db, entries);
  }

  async loadTimers(): Promise<TimerRow[]> {
    const rows = await sqlRows<{ actor_key: string; timer_id: string; event: unknown; due_at: string }>(
      this.#db,
      sql`SELECT actor_key, timer_id, event, due_at::text AS due_at FROM actor_timers ORDER BY due_at`,
    );
    return rows.map((r) => ({
      key: r.actor_key,
      timerId: r.timer_id,
      event: parseJson(r.event) as TimerRow['event'],
      dueAt: new Date(r.due_at),
    }));
  }

  async deleteTimer(key: string, timerId: string): Promise<void> {
    await this.#db.execute(sql`DELETE FROM actor_timers WHERE actor_key = ${key} AND timer_id = ${timerId}`);
  }

  async close(): Promise<void> {
    // The database handle belongs to the caller.
  }
}

async function markDone(db: Database, entries: readonly EffectMark[]): Promise<void> {
  if (entries.length === 0) return;
  const rows = entries.map((e) => ({ actor_key: e.key, actor_seq: e.version, idx: e.idx }));
  await db.execute(sql`
    UPDATE effect_outbox AS o SET done_at = now()
    FROM jsonb_to_recordset(${json(rows)}) AS v(actor_key text, actor_seq bigint, idx integer)
    WHERE o.actor_key = v.actor_key AND o.actor_seq = v.actor_seq AND o.idx = v.idx AND o.done_at IS NULL`);
}

/** postgres.js hands back parsed JSONB; PGlite may hand back text for raw queries. */
function parseJson(value: unknown): unknown {
  return typeof value === 'string' ? JSON.parse(value) : value;
}

function rowFor(w: ActorWrite) {
  return w.kind === 'rollout'
    ? rolloutRow(w.persisted as PersistedRollout, w.version, w.at)
    : hostRow(w.persisted as PersistedHostRollout, w.version, w.at);
}

function keyOfRow(spec: TableSpec, r: { rollout_id: string; hostname?: string }): string {
  return spec === ROLLOUTS ? `rollout:${r.rollout_id}` : `host:${r.rollout_id}/${r.hostname}`;
}

async function insertActors(tx: Database, spec: TableSpec, writes: readonly ActorWrite[]): Promise<string[]> {
  if (writes.length === 0) return [];
  const cols = sql.raw(spec.columns.map(([c]) => c).join(', '));
  const rows = await sqlRows<{ rollout_id: string; hostname?: string }>(
    tx,
    sql`INSERT INTO ${sql.raw(spec.table)} (${cols})
        SELECT ${cols} FROM jsonb_to_recordset(${json(writes.map(rowFor))}) AS v${recordset(spec, '')}
        ON CONFLICT DO NOTHING
        RETURNING ${sql.raw(spec.pk.join(', '))}`,
  );
  return rows.map((r) => keyOfRow(spec, r));
}

/** Fenced update: a row is written only if its stored version is the one the step read. */
async function updateActors(tx: Database, spec: TableSpec, writes: readonly ActorWrite[]): Promise<string[]> {
  if (writes.length === 0) return [];
  const set = sql.raw(
    spec.columns
      .filter(([c]) => !spec.pk.includes(c))
      .map(([c]) => `${c} = v.${c}`)
      .join(', '),
  );
  const match = sql.raw(spec.pk.map((c) => `t.${c} = v.${c}`).join(' AND '));
  const returning = sql.raw(spec.pk.map((c) => `t.${c}`).join(', '));
  const rows = await sqlRows<{ rollout_id: string; hostname?: string }>(
    tx,
    sql`UPDATE ${sql.raw(spec.table)} AS t SET ${set}
        FROM jsonb_to_recordset(${json(writes.map((w) => ({ ...rowFor(w), expected: w.expectedVersion })))})
             AS v${recordset(spec, 'expected bigint')}
        WHERE ${match} AND t.last_event_seq = v.expected AND t.status = 'active'
        RETURNING ${returning}`,
  );
  return rows.map((r) => keyOfRow(spec, r));
}

async function insertLogRows(tx: Database, writes: readonly ActorWrite[]): Promise<void> {
  const rows = writes.flatMap((w) =>
    w.logRows.map((r) => ({
      ts: w.at.toISOString(),
      host_id: r.hostId,
      rollout_id: r.rolloutId,
      kind: r.kind,
      payload: r.payload,
      actor_seq: r.actorSeq,
    })),
  );
  if (rows.length === 0) return;
  const numbered = rows.map((r, n) => ({ ...r, n }));
  // `n` keeps the log's seq order equal to the steps' order. A replayed agent event that is already
  // logged is not an error: the unique key absorbs it.
  await tx.execute(sql`
    INSERT INTO event_log (ts, host_id, rollout_id, kind, payload, actor_seq)
    SELECT ts, host_id, rollout_id, kind, payload, actor_seq
    FROM jsonb_to_recordset(${json(numbered)})
         AS v(n integer, ts timestamptz, host_id text, rollout_id text, kind text, payload jsonb, actor_seq bigint)
    ORDER BY n
    ON CONFLICT DO NOTHING`);
}

async function insertOutbox(tx: Database, writes: readonly ActorWrite[]): Promise<void> {
  const rows = writes.flatMap((w) =>
    w.effects.map((effect, idx) => ({ actor_key: w.key, actor_seq: w.version, idx, effect })),
  );
  if (rows.length === 0) return;
  await tx.execute(sql`
    INSERT INTO effect_outbox (actor_key, actor_seq, idx, effect)
    SELECT actor_key, actor_seq, idx, effect
    FROM jsonb_to_recordset(${json(rows)}) AS v(actor_key text, actor_seq bigint, idx integer, effect jsonb)
    ON CONFLICT DO NOTHING`);
}

async function writeTimers(tx: Database, writes: readonly ActorWrite[]): Promise<void> {
  const cancel = writes.flatMap((w) => w.cancelTimers.map((timer_id) => ({ actor_key: w.key, timer_id })));
  if (cancel.length > 0) {
    await tx.execute(sql`
      DELETE FROM actor_timers AS t USING jsonb_to_recordset(${json(cancel)}) AS v(actor_key text, timer_id text)
      WHERE t.actor_key = v.actor_key AND t.timer_id = v.timer_id`);
  }
  const arm = writes.flatMap((w) =>
    w.armTimers.map((t) => ({
      actor_key: w.key,
      timer_id: t.timerId,
      event: t.event,
      due_at: t.dueAt.toISOString(),
    })),
  );
  if (arm.length > 0) {
    await tx.execute(sql`
      INSERT INTO actor_timers (actor_key, timer_id, event, due_at)
      SELECT actor_key, timer_id, event, due_at
      FROM jsonb_to_recordset(${json(arm)}) AS v(actor_key text, timer_id text, event jsonb, due_at timestamptz)
      ON CONFLICT (actor_key, timer_id) DO UPDATE SET event = excluded.event, due_at = excluded.due_at`);
  }
}
