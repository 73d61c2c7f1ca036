// POST /v1/agent/heartbeat wired to heartbeat recovery (spec §5.5, §7.4-7.6, §7.17) on real
// PostgreSQL: synthesised events go through the host actors; bootstrap snapshots reflect them;
// presence is recorded; and after every row of the CP database is deleted, one heartbeat per host
// and a plan tick rebuild each record from the host's reported closure without a re-dispatch.
import { eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hostRolloutKey } from '../../actors/index.ts';
import { type ControlPlaneCore, createPlanRunner } from '../../cp/index.ts';
import { dispatchQueue, hostPresence, quarantinedClosures, rollouts } from '../../db/index.ts';
import { createTestDatabase, type TestDatabase } from '../support/postgres.ts';
import { CLOSURE_A, CLOSURE_B } from '../trust/support.ts';
import {
  createReleaseWorld,
  envelope,
  hostState,
  openRollout,
  postJson,
  type ReleaseWorld,
  STABLE,
  startCore,
  until,
  wire,
} from './support.ts';

let db: TestDatabase;
let world: ReleaseWorld;
let core: ControlPlaneCore;

/** Soaks of zero minutes: recovery can converge within one heartbeat. */
const noSoak = (fleet: Record<string, unknown>) => {
  const policies = fleet.rolloutPolicies as Record<string, { waves: { soakMinutes: number }[] }>;
  for (const p of Object.values(policies)) for (const w of p.waves) w.soakMinutes = 0;
  const waves = fleet.waves as Record<string, { soakMinutes: number }[]>;
  for (const list of Object.values(waves)) for (const w of list) w.soakMinutes = 0;
};

beforeAll(async () => {
  db = await createTestDatabase();
  world = await createReleaseWorld();
  await world.writeRelease({ edit: noSoak });
  core = await startCore(db.handle, world);
});

afterAll(async () => {
  await core?.stop();
  await db?.drop();
  await world?.cleanup();
});

const heartbeat = (body: Record<string, unknown>, app = core.app) =>
  app.request('/v1/agent/heartbeat', postJson({ at: new Date().toISOString(), rollout_id: null, ...body }));

describe('POST /v1/agent/heartbeat', () => {
  it('completes an activation the agent could not report, and hands back the new snapshot', async () => {
    await openRollout(core, ['hb-01', 'hb-02'], 'manual@abc123');
    expect(
      (await core.app.request('/v1/agent/events', postJson(envelope('hb-01', wire.ack(1), 'manual@abc123'))))
        .status,
    ).toBe(204);
    const res = await heartbeat({
      hostname: 'hb-01',
      current_closure: 'target-hb-01',
      agent_version: 'test',
    });
    expect(res.status).toBe(200);
    expect(hostState(core, 'hb-01', 'manual@abc123')).toBe('Soaking');
    const body = (await res.json()) as {
      received_at: string;
      bootstrap_rollouts: { state: string; lastEventSeq: number }[];
    };
    expect(body.bootstrap_rollouts).toMatchObject([
      { rolloutId: 'manual@abc123', state: 'Soaking', lastEventSeq: 2 },
    ]);
    const [presence] = await db.handle.db
      .select()
      .from(hostPresence)
      .where(eq(hostPresence.hostname, 'hb-01'));
    expect(presence).toMatchObject({ currentClosure: 'target-hb-01', agentVersion: 'test' });
    // Idempotent: the same heartbeat again synthesises nothing more.
    await heartbeat({ hostname: 'hb-01', current_closure: 'target-hb-01' });
    expect(
      core.runtime.snapshotOf('hostRollout', hostRolloutKey('manual@abc123', 'hb-01'))?.context.lastEventSeq,
    ).toBe(2);
  });

  it('completes a rollback whose report was lost: Reverted, and the target quarantined', async () => {
    const post = (e: Parameters<typeof envelope>[1]) =>
      core.app.request('/v1/agent/events', postJson(envelope('hb-02', e, 'manual@abc123')));
    await post(wire.ack(1));
    await post(wire.activationFailed(2));
    expect(hostState(core, 'hb-02', 'manual@abc123')).toBe('Failed');
    expect((await heartbeat({ hostname: 'hb-02', current_closure: 'prior' })).status).toBe(200);
    expect(hostState(core, 'hb-02', 'manual@abc123')).toBe('Reverted');
    const rows = await db.handle.db.select().from(quarantinedClosures);
    expect(rows).toMatchObject([{ channel: 'manual', closureHash: 'target-hb-02' }]);
  });

  it('answers 400 for a malformed heartbeat, naming the field', async () => {
    const res = await heartbeat({ hostname: 'hb-01', at: 'yesterday' });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: 'invalid_body', detail: expect.stringContaining('at') });
  });
});

describe('disaster recovery (spec §7.17)', () => {
  it('rebuilds every record from heartbeats after the database is wiped, without re-dispatching', async () => {
    const planner = createPlanRunner();
    let cp = await startCore(db.handle, world, { planner });
    await cp.ticker.tickNow('test');
    const post = (host: string, e: Parameters<typeof envelope>[1]) =>
      cp.app.request('/v1/agent/events', postJson(envelope(host, e)));
    // Run the rollout to the end the normal way.
    for (const [host, closure] of [
      ['web-01', CLOSURE_A],
      ['web-02', CLOSURE_B],
    ] as const) {
      await until(
        async () =>
          (await db.handle.db.select().from(dispatchQueue).where(eq(dispatchQueue.hostname, host))).length >
          0,
        10_000,
        `${host} to be dispatched`,
      );
      const now = Date.now();
      const t = (s: number) => new Date(now + s * 1000).toISOString();
      await post(host, { kind: 'DispatchAck', currentClosureAtDispatch: 'prior', receivedAt: t(0), seq: 1 });
      await post(host, {
        kind: 'ActivationCompleted',
        observedCurrentClosure: closure,
        exitCode: 0,
        completedAt: t(1),
        seq: 2,
      });
      expect(
        (await post(host, { kind: 'Converged', convergedAt: t(2), currentClosure: closure, seq: 3 })).status,
      ).toBe(204);
    }
    await until(async () => (await rolloutState()) === 'Terminal', 10_000, 'the rollout to finish');
    await cp.stop();

    // Every row of every CP table goes.
    await db.handle.db.execute(
      sql`TRUNCATE rollouts, host_rollout_records, event_log, dispatch_queue, quarantined_closures,
          probe_failures, effect_outbox, actor_timers, host_presence CASCADE`,
    );

    cp = await startCore(db.handle, world, { planner: createPlanRunner() });
    await cp.ticker.tickNow('after wipe');
    expect(hostState(cp, 'web-01')).toBe('Pending');
    // One heartbeat per host, reporting the closure each already runs.
    for (const [hostname, current] of [
      ['web-01', CLOSURE_A],
      ['web-02', CLOSURE_B],
    ] as const) {
      expect((await heartbeat({ hostname, current_closure: current }, cp.app)).status).toBe(200);
      await cp.ticker.tickNow('after heartbeat');
    }
    expect(hostState(cp, 'web-01')).toBe('Converged');
    expect(hostState(cp, 'web-02')).toBe('Converged');
    await until(async () => (await rolloutState()) === 'Terminal', 10_000, 'the rebuilt rollout to finish');
    // No host is left with a dispatch that would make it re-activate what it runs.
    await cp.ticker.tickNow('settle');
    expect(await db.handle.db.select().from(dispatchQueue)).toEqual([]);
    await cp.stop();
  });
});

async function rolloutState(): Promise<string | undefined> {
  const [row] = await db.handle.db.select().from(rollouts).where(eq(rollouts.rolloutId, STABLE));
  return row?.state;
}
