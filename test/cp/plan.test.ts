// The daemon's plan loop end to end on real PostgreSQL (spec §7.7-7.8, §3.7): a verified release
// opens its rollout through the actors, wave 0 is dispatched over the long-poll, wave 1 waits behind
// wave promotion (counted in `nixfleet_gate_block_total`) and is dispatched as soon as wave 0
// converges, and the rollout turns Terminal when every host converged.
import { and, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hostRolloutKey, rolloutKey } from '../../actors/index.ts';
import { type ControlPlaneCore, createPlanRunner } from '../../cp/index.ts';
import { dispatchQueue, eventLog, rollouts } from '../../db/index.ts';
import type { AgentEvent } from '../../proto/index.ts';
import { createTestDatabase, type TestDatabase } from '../support/postgres.ts';
import { CLOSURE_A, CLOSURE_B } from '../trust/support.ts';
import {
  at,
  createReleaseWorld,
  envelope,
  hostState,
  openRollout,
  type ReleaseWorld,
  STABLE,
  silentLogger,
  startCore,
  until,
  wire,
} from './support.ts';

let db: TestDatabase;
let world: ReleaseWorld;
let core: ControlPlaneCore;
const planner = createPlanRunner();

beforeAll(async () => {
  db = await createTestDatabase();
  world = await createReleaseWorld();
  await world.writeRelease();
  core = await startCore(db.handle, world, { planner });
});

afterAll(async () => {
  await core?.stop();
  await db?.drop();
  await world?.cleanup();
});

const post = (body: unknown) =>
  core.app.request('/v1/agent/events', { method: 'POST', body: JSON.stringify(body) });
const poll = (hostname: string, wait = '10') =>
  core.app.request(`/v1/agent/dispatch?wait=${wait}&hostname=${hostname}`);

/** What an agent reports for one successful activation and soak, from `start`. */
function run(closure: string, soakMinutes: number, start = Date.now()): AgentEvent[] {
  const t = (s: number) => new Date(start + s * 1000).toISOString();
  return [
    { kind: 'DispatchAck', currentClosureAtDispatch: 'prior', receivedAt: t(0), seq: 1 },
    { kind: 'ActivationStarted', startedAt: t(1), switchMethod: 'switch', seq: 2 },
    { kind: 'ActivationCompleted', observedCurrentClosure: closure, exitCode: 0, completedAt: t(2), seq: 3 },
    { kind: 'Converged', convergedAt: t(2 + soakMinutes * 60), currentClosure: closure, seq: 4 },
  ];
}

describe('plan loop', () => {
  it('opens the release’s rollout through the actors and queues wave 0 only', async () => {
    await core.ticker.tickNow('test');
    expect(core.runtime.snapshotOf('rollout', rolloutKey(STABLE))?.value).toBe('Active');
    const web01 = core.runtime.snapshotOf('hostRollout', hostRolloutKey(STABLE, 'web-01'));
    const web02 = core.runtime.snapshotOf('hostRollout', hostRolloutKey(STABLE, 'web-02'));
    expect(web01?.context).toMatchObject({
      targetClosure: CLOSURE_A,
      wave: 0,
      onHealthFailure: 'rollback-and-halt',
    });
    expect(web02?.context).toMatchObject({ targetClosure: CLOSURE_B, wave: 1 });
    const queued = await db.handle.db.select().from(dispatchQueue);
    expect(queued.map((q) => q.hostname)).toEqual(['web-01']);

    const deferred = planner.lastActions().filter((a) => a.type === 'DeferDispatch');
    expect(deferred).toMatchObject([{ host: 'web-02', gate: 'wave-promotion' }]);
    const metrics = await (await core.app.request('/metrics')).text();
    expect(metrics).toMatch(/nixfleet_gate_block_total\{gate="wave-promotion"\} [1-9]/);
    const logged = await db.handle.db
      .select()
      .from(eventLog)
      .where(and(eq(eventLog.kind, 'plan'), eq(eventLog.rolloutId, STABLE)));
    expect(logged.map((r) => (r.payload as { action: string }).action)).toEqual(
      expect.arrayContaining(['OpenRollout', 'QueueDispatch', 'DeferDispatch']),
    );
  });

  it('dispatches wave 1 as soon as wave 0 converged, then the rollout is Terminal', async () => {
    const first = await poll('web-01');
    expect(first.status).toBe(200);
    expect(await first.json()).toMatchObject({
      hostname: 'web-01',
      rollout_id: STABLE,
      target_closure: CLOSURE_A,
    });
    for (const e of run(CLOSURE_A, 5)) expect((await post(envelope('web-01', e))).status).toBe(204);
    expect(core.runtime.snapshotOf('hostRollout', hostRolloutKey(STABLE, 'web-01'))?.value).toBe('Converged');

    // The transition triggers a plan: the held poll for web-02 is answered without a manual tick.
    const second = await poll('web-02', '20');
    expect(second.status).toBe(200);
    expect(await second.json()).toMatchObject({ hostname: 'web-02', target_closure: CLOSURE_B });
    for (const e of run(CLOSURE_B, 10)) expect((await post(envelope('web-02', e))).status).toBe(204);

    await until(
      async () =>
        (await db.handle.db.select().from(rollouts).where(eq(rollouts.rolloutId, STABLE)))[0]?.state ===
        'Terminal',
      10_000,
      'the rollout to become Terminal',
    );
    // A finished rollout plans nothing more: no dispatch is left behind.
    await core.ticker.tickNow('test');
    expect(await db.handle.db.select().from(dispatchQueue)).toEqual([]);
  });

  it('fails a host stuck in Activating once its activation deadline passed (G7)', async () => {
    const late = 'late@abc123';
    await openRollout(core, ['late-01'], late, 'halt');
    expect((await post(envelope('late-01', wire.ack(1), late))).status).toBe(204);
    const release = core.releases.current();
    if (release === undefined) throw new Error('no release');
    const context = {
      db: db.handle.db,
      runtime: core.runtime,
      release,
      dispatcher: core.dispatcher,
      metrics: core.metrics,
      logger: silentLogger,
    };
    // Within the deadline nothing happens; past it the record fails with activation-timeout.
    // The ack was received at T0+1 s (agent clock); the CP clock here is T0+60 s.
    const now = new Date(at(60));
    await createPlanRunner({ activationTimeoutSecs: 3600 }).tick({ ...context, now });
    expect(hostState(core, 'late-01', late)).toBe('Activating');
    await createPlanRunner({ activationTimeoutSecs: 30 }).tick({ ...context, now });
    expect(hostState(core, 'late-01', late)).toBe('Failed');
    const ctx = core.runtime.snapshotOf('hostRollout', hostRolloutKey(late, 'late-01'))?.context;
    expect(ctx?.activationFailedAt).not.toBeNull();
  });
});
