// The actor runtime on both drivers (real PostgreSQL and embedded PGlite): persistence, ordering,
// fencing, rehydration, quarantine, outbox, durable timers and the inspection stream.
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ActorRuntime,
  hostRolloutKey,
  InspectionBus,
  type InspectionFrame,
  type OutboxEntry,
  PostgresSnapshotStore,
  rolloutKey,
} from '../../actors/index.ts';
import { type DatabaseHandle, sqlRows } from '../../db/index.ts';
import { persistHostRollout } from '../../machines/index.ts';
import { DRIVERS, type DriverDatabase } from '../support/drivers.ts';
import { hostInput, ManualClock, remote, rolloutInput } from './support.ts';

describe.each(DRIVERS)('actor runtime on %s', (_name, open) => {
  let database: DriverDatabase;
  let handle: DatabaseHandle;
  beforeAll(async () => {
    database = await open();
    handle = database.handle;
  });
  afterAll(async () => {
    await database.drop();
  });

  const start = (options: Partial<Parameters<typeof ActorRuntime.start>[0]> = {}) =>
    ActorRuntime.start({ store: new PostgresSnapshotStore(handle.db), ...options });

  const count = async (query: ReturnType<typeof sql>) =>
    Number((await sqlRows<{ n: number }>(handle.db, query))[0]?.n ?? -1);

  it('persists every accepted step with its event-log rows in one write, and rehydrates exactly', async () => {
    const rid = 'stable@persist1';
    const rt = await start();
    await rt.spawn('rollout', rolloutInput(rid));
    await rt.spawn('hostRollout', hostInput('web-01', rid));
    const key = hostRolloutKey(rid, 'web-01');
    for (const e of [remote.ack(1), remote.started(2), remote.completed(3, 'web-01')]) {
      const r = await rt.send('hostRollout', key, e);
      expect(r.ok).toBe(true);
    }
    const r = await rt.send('rollout', rolloutKey(rid), {
      type: 'HostJoined',
      rolloutId: rid,
      hostId: 'web-01',
      wave: 0,
      at: '2026-05-16T01:00:00Z',
    });
    expect(r.ok).toBe(true);
    const live = rt.snapshotOf('hostRollout', key);
    await rt.stop();

    const rows = await sqlRows<{ state: string; last_event_seq: number; current_closure: string }>(
      handle.db,
      sql`SELECT state, last_event_seq::int AS last_event_seq, current_closure FROM host_rollout_records
          WHERE rollout_id = ${rid} AND hostname = 'web-01'`,
    );
    expect(rows).toEqual([{ state: 'Soaking', last_event_seq: 3, current_closure: 'target-web-01' }]);
    expect(
      await count(
        sql`SELECT count(*)::int AS n FROM event_log WHERE rollout_id = ${rid} AND kind = 'agent_event'`,
      ),
    ).toBe(3);
    expect(
      await count(
        sql`SELECT count(*)::int AS n FROM event_log WHERE rollout_id = ${rid} AND kind = 'effect'`,
      ),
    ).toBe(2);
    expect(
      await count(
        sql`SELECT count(*)::int AS n FROM event_log WHERE rollout_id = ${rid} AND kind = 'rollout_event'`,
      ),
    ).toBe(1);
    expect(
      await sqlRows(handle.db, sql`SELECT state, current_wave FROM rollouts WHERE rollout_id = ${rid}`),
    ).toEqual([{ state: 'Active', current_wave: 0 }]);

    const again = await start();
    const restored = again.snapshotOf('hostRollout', key);
    if (live === undefined || restored === undefined) expect.fail('actor missing');
    expect(persistHostRollout(restored)).toEqual(persistHostRollout(live));
    expect(again.versionOf(key)).toBe(3);
    await again.stop();
  });

  it('serialises concurrent senders to one actor and applies each event once', async () => {
    const rid = 'stable@serial1';
    const rt = await start();
    await rt.spawn('rollout', rolloutInput(rid));
    const key = hostRolloutKey(rid, 'web-02');
    await rt.spawn('hostRollout', hostInput('web-02', rid));
    await rt.send('hostRollout', key, remote.ack(1));
    await rt.send('hostRollout', key, remote.completed(2, 'web-02'));
    // 40 probe results sent at once, each twice: every seq is applied exactly once, in order.
    const events = Array.from({ length: 40 }, (_, i) => remote.probe(3 + i, i % 2 === 0 ? 'pass' : 'fail'));
    const results = await Promise.all([...events, ...events].map((e) => rt.send('hostRollout', key, e)));
    expect(results.filter((r) => r.ok)).toHaveLength(40);
    expect(results.slice(40).every((r) => !r.ok && r.error.code === 'SeqRegression')).toBe(true);
    expect(rt.snapshotOf('hostRollout', key)?.context.lastEventSeq).toBe(42);
    const seqs = await sqlRows<{ s: number }>(
      handle.db,
      sql`SELECT actor_seq::int AS s FROM event_log WHERE rollout_id = ${rid} AND kind = 'agent_event' ORDER BY seq`,
    );
    expect(seqs.map((r) => r.s)).toEqual(Array.from({ length: 42 }, (_, i) => i + 1));
    await rt.stop();
  });

  it('different actors step concurrently and their writes share transactions', async () => {
    const rid = 'stable@many1';
    const rt = await start();
    await rt.spawn('rollout', rolloutInput(rid));
    const hosts = Array.from({ length: 50 }, (_, i) => `h${String(i).padStart(3, '0')}`);
    await Promise.all(hosts.map((h) => rt.spawn('hostRollout', hostInput(h, rid))));
    const results = await Promise.all(
      hosts.map((h) => rt.send('hostRollout', hostRolloutKey(rid, h), remote.ack(1))),
    );
    expect(results.every((r) => r.ok)).toBe(true);
    expect(
      await count(
        sql`SELECT count(*)::int AS n FROM host_rollout_records WHERE rollout_id = ${rid} AND state = 'Activating'`,
      ),
    ).toBe(50);
    await rt.stop();
  });

  it('a second runtime on the same database is fenced: no lost update, no double apply', async () => {
    const rid = 'stable@fence1';
    const a = await start();
    await a.spawn('rollout', rolloutInput(rid));
    await a.spawn('hostRollout', hostInput('web-03', rid));
    const key = hostRolloutKey(rid, 'web-03');
    const b = await start();
    expect(b.has(key)).toBe(true);
    // A applies seq 1 and 2; B, still at version 0 in memory, is sent the same seq 1 (a replay)
    // and then seq 3. It must reload instead of overwriting A's newer row.
    expect((await a.send('hostRollout', key, remote.ack(1))).ok).toBe(true);
    expect((await a.send('hostRollout', key, remote.started(2))).ok).toBe(true);
    const replay = await b.send('hostRollout', key, remote.ack(1));
    expect(replay).toMatchObject({ ok: false, error: { code: 'SeqRegression' } });
    const next = await b.send('hostRollout', key, remote.completed(3, 'web-03'));
    expect(next.ok).toBe(true);
    expect(b.snapshotOf('hostRollout', key)?.context.activationStartedAt).not.toBeNull();
    expect(
      await count(
        sql`SELECT count(*)::int AS n FROM event_log WHERE rollout_id = ${rid} AND kind = 'agent_event'`,
      ),
    ).toBe(3);
    await a.stop();
    await b.stop();
  });

  it('quarantines a row that cannot be restored and keeps every other actor', async () => {
    const rid = 'stable@quarantine1';
    const rt = await start();
    await rt.spawn('rollout', rolloutInput(rid));
    await rt.spawn('hostRollout', hostInput('good', rid));
    await rt.spawn('hostRollout', hostInput('bad', rid));
    await rt.stop();
    await handle.db.execute(
      sql`UPDATE host_rollout_records SET snapshot = jsonb_set(snapshot, '{machineVersion}', '99')
          WHERE rollout_id = ${rid} AND hostname = 'bad'`,
    );
    const failures: string[] = [];
    const again = await start({ onRestoreFailure: (f) => failures.push(`${f.key}: ${f.reason}`) });
    expect(again.has(hostRolloutKey(rid, 'good'))).toBe(true);
    expect(again.has(hostRolloutKey(rid, 'bad'))).toBe(false);
    expect(failures).toEqual([expect.stringContaining('version 99')]);
    expect(
      await sqlRows(
        handle.db,
        sql`SELECT status FROM host_rollout_records WHERE rollout_id = ${rid} AND hostname = 'bad'`,
      ),
    ).toEqual([{ status: 'quarantined' }]);
    expect(await again.send('hostRollout', hostRolloutKey(rid, 'bad'), remote.ack(1))).toMatchObject({
      ok: false,
      error: { code: 'Quarantined' },
    });
    await again.stop();
  });

  it('runs effects after commit, and re-runs the ones not marked done after a restart', async () => {
    const rid = 'stable@outbox1';
    const applied: OutboxEntry[] = [];
    let failNext = true;
    const rt = await start({
      applyEffect: (e) => {
        if (e.effect.type === 'RecordTransition' && failNext) {
          failNext = false;
          throw new Error('applier down');
        }
        applied.push(e);
      },
      onEffectError: () => {},
    });
    await rt.spawn('rollout', rolloutInput(rid));
    await rt.spawn('hostRollout', hostInput('web-04', rid));
    await rt.send('hostRollout', hostRolloutKey(rid, 'web-04'), remote.ack(1));
    await rt.stop();
    expect(applied.map((e) => e.effect.type)).toEqual(['RemoteAppendEventLog']);

    const rerun: OutboxEntry[] = [];
    const again = await start({ applyEffect: (e) => void rerun.push(e) });
    expect(
      rerun.filter((e) => e.key.includes('outbox1')).map((e) => [e.effect.type, e.version, e.idx]),
    ).toEqual([['RecordTransition', 1, 1]]);
    await again.stop();
    const third: OutboxEntry[] = [];
    const last = await start({ applyEffect: (e) => void third.push(e) });
    expect(third.filter((e) => e.key.includes('outbox1'))).toEqual([]);
    await last.stop();
  });

  it('fires durable timers, also after a restart, and drops a timer whose event is no longer legal', async () => {
    const rid = 'stable@timer1';
    const clock = new ManualClock();
    const rt = await start({ clock });
    await rt.spawn('rollout', rolloutInput(rid));
    await rt.spawn('hostRollout', hostInput('web-05', rid));
    await rt.spawn('hostRollout', hostInput('web-06', rid));
    const deadline = (s: number) => ({
      timerId: 'activation-deadline',
      event: { ...remote.activationFailed(0) },
      dueAt: new Date(clock.now().getTime() + s * 1000),
    });
    const k5 = hostRolloutKey(rid, 'web-05');
    const k6 = hostRolloutKey(rid, 'web-06');
    await rt.send('hostRollout', k5, remote.ack(1), { armTimers: [deadline(300)] });
    await rt.send('hostRollout', k6, remote.ack(1), { armTimers: [deadline(300)] });
    // web-06 completes before its deadline: the timer must not fail it later.
    await rt.send('hostRollout', k6, remote.completed(2, 'web-06'));
    await rt.stop();

    const clock2 = new ManualClock(clock.now().getTime());
    const again = await start({ clock: clock2 });
    expect(clock2.pending).toBe(2);
    clock2.advance(301_000);
    const { until } = await import('./support.ts');
    await until(
      async () => again.snapshotOf('hostRollout', k5)?.value === 'Failed',
      10_000,
      'deadline to fail web-05',
    );
    await until(
      async () =>
        (await count(sql`SELECT count(*)::int AS n FROM actor_timers WHERE actor_key LIKE ${`%${rid}%`}`)) ===
        0,
    );
    expect(again.snapshotOf('hostRollout', k5)?.context.lastEventSeq).toBe(2);
    expect(again.snapshotOf('hostRollout', k6)?.value).toBe('Soaking');
    await again.stop();
  });

  it('publishes every transition on the inspection bus', async () => {
    const rid = 'stable@inspect1';
    const bus = new InspectionBus();
    const frames: InspectionFrame[] = [];
    bus.subscribe((f) => frames.push(f));
    const rt = await start({ inspection: bus });
    await rt.spawn('rollout', rolloutInput(rid));
    await rt.spawn('hostRollout', hostInput('web-07', rid));
    const key = hostRolloutKey(rid, 'web-07');
    await rt.send('hostRollout', key, remote.ack(1));
    await rt.send('hostRollout', key, remote.ack(1));
    const mine = frames.filter((f) => f.actorId === key);
    expect(mine.map((f) => f.type)).toEqual([
      '@xstate.actor',
      '@xstate.event',
      '@xstate.snapshot',
      '@xstate.event',
      '@nixfleet.rejected',
    ]);
    expect(mine[2]).toMatchObject({ from: 'Pending', to: 'Activating', snapshot: { value: 'Activating' } });
    await rt.stop();
    const rehydrated: InspectionFrame[] = [];
    bus.subscribe((f) => rehydrated.push(f));
    const again = await start({ inspection: bus });
    expect(rehydrated.find((f) => f.actorId === key)).toMatchObject({
      type: '@xstate.actor',
      reason: 'rehydrate',
    });
    await again.stop();
  });
});
