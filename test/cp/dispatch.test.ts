// GET /v1/agent/dispatch long-poll on real PostgreSQL (spec §5.6, §7.1 dispatch watch): woken by an
// in-process enqueue and by a NOTIFY from another connection (a second CP), 204 on deadline, the
// wait capped, the client's disconnect ending the wait, and each row delivered exactly once.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ControlPlaneCore, enqueueDispatch } from '../../cp/index.ts';
import { openPostgres, type PostgresHandle } from '../../db/index.ts';
import { createTestDatabase, type TestDatabase } from '../support/postgres.ts';
import { createReleaseWorld, type ReleaseWorld, startCore, until } from './support.ts';

let db: TestDatabase;
let world: ReleaseWorld;
let core: ControlPlaneCore;
let capped: ControlPlaneCore;
/** Another session on the same database, standing in for a second CP process. */
let other: PostgresHandle;

beforeAll(async () => {
  db = await createTestDatabase();
  world = await createReleaseWorld();
  await world.writeRelease();
  core = await startCore(db.handle, world);
  capped = await startCore(db.handle, world, { longpollMaxWaitMs: 200, listen: false });
  other = openPostgres({ url: db.url, applicationName: 'second-cp' });
});

afterAll(async () => {
  await other?.close();
  await capped?.stop();
  await core?.stop();
  await db?.drop();
  await world?.cleanup();
});

const row = (hostname: string, rolloutId: string, enqueuedAt = new Date()) => ({
  hostname,
  rolloutId,
  targetClosure: `target-${hostname}`,
  soakDueAt: new Date('2026-05-16T02:00:00.000Z'),
  enqueuedAt,
});

const poll = (hostname: string, wait: string, app = core.app, init: RequestInit = {}) =>
  app.request(`/v1/agent/dispatch?wait=${wait}&hostname=${hostname}`, init);

describe('GET /v1/agent/dispatch', () => {
  it('answers at once with the oldest queued row, snake_case (spec §5.6)', async () => {
    await enqueueDispatch(db.handle.db, row('h-now', 'stable@2', new Date('2026-05-16T01:00:02Z')));
    await enqueueDispatch(db.handle.db, row('h-now', 'stable@1', new Date('2026-05-16T01:00:01Z')));
    const first = await poll('h-now', '0');
    expect(first.status).toBe(200);
    expect(await first.json()).toEqual({
      hostname: 'h-now',
      rollout_id: 'stable@1',
      target_closure: 'target-h-now',
      soak_due_at: '2026-05-16T02:00:00.000Z',
      enqueued_at: '2026-05-16T01:00:01.000Z',
    });
    expect(await (await poll('h-now', '0')).json()).toMatchObject({ rollout_id: 'stable@2' });
    expect((await poll('h-now', '0')).status).toBe(204);
  });

  it('holds the poll and answers as soon as a dispatch is queued in this process', async () => {
    const started = Date.now();
    const pending = poll('h-local', '30');
    await until(() => core.wakeups.waiting > 0, 5_000, 'the poll to be held');
    await core.dispatcher.enqueue(row('h-local', 'stable@abc'));
    const res = await pending;
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ hostname: 'h-local', rollout_id: 'stable@abc' });
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('is woken by a NOTIFY from another connection (a second CP enqueueing)', async () => {
    const started = Date.now();
    const pending = poll('h-remote', '30');
    await until(() => core.wakeups.waiting > 0, 5_000, 'the poll to be held');
    // Not through this core's dispatcher: only LISTEN nixfleet_dispatch can wake the poll.
    await enqueueDispatch(other.db, row('h-remote', 'stable@abc'));
    const res = await pending;
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ hostname: 'h-remote' });
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('answers 204 on the deadline', async () => {
    const started = Date.now();
    const res = await poll('h-idle', '0.3');
    expect(res.status).toBe(204);
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    expect(core.wakeups.waiting).toBe(0);
  });

  it('caps the wait at --longpoll-max-wait', async () => {
    const started = Date.now();
    const res = await poll('h-capped', '60', capped.app);
    expect(res.status).toBe(204);
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('ends the wait when the client goes away', async () => {
    const controller = new AbortController();
    const pending = poll('h-gone', '30', core.app, { signal: controller.signal });
    await until(() => core.wakeups.waiting > 0, 5_000, 'the poll to be held');
    controller.abort();
    await Promise.resolve(pending).catch(() => undefined);
    await until(() => core.wakeups.waiting === 0, 5_000, 'the wait to end');
    // Nothing was consumed on the way out.
    await core.dispatcher.enqueue(row('h-gone', 'stable@abc'));
    expect((await poll('h-gone', '0')).status).toBe(200);
  });

  it('delivers each row exactly once to two concurrent polls of the same host', async () => {
    const a = poll('h-race', '5');
    const b = poll('h-race', '5');
    await until(() => core.wakeups.waiting >= 2, 5_000, 'both polls to be held');
    await enqueueDispatch(db.handle.db, row('h-race', 'stable@only'));
    const first = await Promise.race([a, b]);
    expect(first.status).toBe(200);
    // The loser waits out its deadline with nothing, unless a second row comes.
    await core.dispatcher.enqueue(row('h-race', 'stable@second'));
    const both = await Promise.all([a, b]);
    const bodies = await Promise.all(both.map((r) => r.json() as Promise<{ rollout_id: string }>));
    expect(bodies.map((b) => b.rollout_id).sort()).toEqual(['stable@only', 'stable@second']);
  });

  it('hands out a burst of rows to racing pollers with no duplicate and no loss', async () => {
    const ids = Array.from({ length: 20 }, (_, i) => `stable@${i.toString(16).padStart(2, '0')}`);
    for (const id of ids) await enqueueDispatch(other.db, row('h-burst', id));
    const got: string[] = [];
    const drain = async (app: typeof core.app) => {
      for (;;) {
        const res = await poll('h-burst', '0', app);
        if (res.status === 204) return;
        got.push(((await res.json()) as { rollout_id: string }).rollout_id);
      }
    };
    await Promise.all([drain(core.app), drain(capped.app), drain(core.app)]);
    expect(got.sort()).toEqual(ids);
  });

  it('refuses a bad wait or, without mTLS, a missing hostname with 400', async () => {
    expect((await core.app.request('/v1/agent/dispatch?wait=soon&hostname=h')).status).toBe(400);
    expect((await core.app.request('/v1/agent/dispatch?wait=1')).status).toBe(400);
    const res = await core.app.request('/v1/agent/dispatch?wait=0&hostname=../etc');
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: 'invalid_hostname' });
  });

  it('answers held polls with 204 at once when the control plane drains (shutdown)', async () => {
    const started = Date.now();
    const pending = poll('h-drain', '30');
    await until(() => core.wakeups.waiting > 0, 5_000, 'the poll to be held');
    core.drain();
    expect((await pending).status).toBe(204);
    expect(Date.now() - started).toBeLessThan(10_000);
    // New work is refused while draining.
    expect((await poll('h-drain', '0')).status).toBe(503);
  });
});
