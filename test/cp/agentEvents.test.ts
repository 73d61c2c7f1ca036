// POST /v1/agent/events on real PostgreSQL through `app.request()` (spec §5.4, contract §4, G2):
// every outcome has its status, and nothing is dropped silently. Also the CP applier's effects:
// quarantine rows (G1), probe failures, and the rollout actor fed until Terminal.
import { and, eq } from 'drizzle-orm';
import type { MiddlewareHandler } from 'hono';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rolloutKey } from '../../actors/index.ts';
import type { IdentityEnv } from '../../cp/identity/index.ts';
import type { ControlPlaneCore } from '../../cp/index.ts';
import { eventLog, probeFailures, quarantinedClosures, rollouts } from '../../db/index.ts';
import { createTestDatabase, type TestDatabase } from '../support/postgres.ts';
import {
  createReleaseWorld,
  envelope,
  hostState,
  openRollout,
  postJson,
  type ReleaseWorld,
  STABLE,
  startCore,
  wire,
} from './support.ts';

let db: TestDatabase;
let world: ReleaseWorld;
let core: ControlPlaneCore;
let mtlsCore: ControlPlaneCore;

/** Stands in for the TLS layer: the test names the caller's CN in a header. */
const fakeIdentity: MiddlewareHandler<IdentityEnv> = async (c, next) => {
  const cn = c.req.header('x-test-cn');
  if (cn === undefined) return c.json({ error: 'unauthenticated', detail: 'no cert' }, 401);
  c.set('identity', {
    cn,
    machineId: cn.replace(/^agent-/, ''),
    notBefore: new Date(0),
    notAfter: new Date(8.64e15),
    serial: '01',
  });
  await next();
  return undefined;
};

beforeAll(async () => {
  db = await createTestDatabase();
  world = await createReleaseWorld();
  await world.writeRelease();
  core = await startCore(db.handle, world);
  await openRollout(core, ['web-01', 'web-02', 'web-03', 'web-04']);
  // A second core on the same database, in mTLS mode, only for the identity check.
  mtlsCore = await startCore(db.handle, world, {
    auth: { mode: 'mtls', requireIdentity: fakeIdentity },
    listen: false,
  });
});

afterAll(async () => {
  await mtlsCore?.stop();
  await core?.stop();
  await db?.drop();
  await world?.cleanup();
});

const post = (body: unknown, headers: Record<string, string> = {}, app = core.app) =>
  app.request('/v1/agent/events', postJson(body, headers));

describe('POST /v1/agent/events', () => {
  it('applies an event through the host actor: 204, and the record moved', async () => {
    const res = await post(envelope('web-01', wire.ack(1)));
    expect(res.status).toBe(204);
    expect(res.headers.get('X-Nixfleet-Protocol')).toBe('1');
    expect(hostState(core, 'web-01')).toBe('Activating');
    const rows = await db.handle.db
      .select()
      .from(eventLog)
      .where(and(eq(eventLog.hostId, 'web-01'), eq(eventLog.kind, 'agent_event')));
    expect(rows.map((r) => r.actorSeq)).toEqual([1]);
  });

  it('answers a duplicate (a retry after a lost 204) with 204 and applies nothing twice', async () => {
    const res = await post(envelope('web-01', wire.ack(1)));
    expect(res.status).toBe(204);
    const rows = await db.handle.db
      .select()
      .from(eventLog)
      .where(and(eq(eventLog.hostId, 'web-01'), eq(eventLog.kind, 'agent_event')));
    expect(rows).toHaveLength(1);
  });

  it('answers 409 illegal_transition when the chart refuses the event for the state', async () => {
    const res = await post(envelope('web-01', wire.rolledBack(2)));
    expect(res.status).toBe(409);
    const body = (await res.json()) as { error: string; detail: string };
    expect(body.error).toBe('illegal_transition');
    expect(body.detail).toContain('Activating');
    expect(hostState(core, 'web-01')).toBe('Activating');
  });

  it('answers 409 invariant when a Converged report breaks a Converged invariant', async () => {
    expect((await post(envelope('web-01', wire.completed(2, 'web-01')))).status).toBe(204);
    const res = await post(envelope('web-01', wire.converged(3, 'some-other-closure')));
    expect(res.status).toBe(409);
    expect(await res.json()).toMatchObject({ error: 'invariant' });
    expect(hostState(core, 'web-01')).toBe('Soaking');
  });

  it('answers 404 unknown_rollout when no record exists for the host in that rollout', async () => {
    const unknownHost = await post(envelope('web-99', wire.ack(1)));
    expect(unknownHost.status).toBe(404);
    expect(await unknownHost.json()).toMatchObject({ error: 'unknown_rollout' });
    const unknownRollout = await post(envelope('web-01', wire.ack(1), 'stable@ffff'));
    expect(unknownRollout.status).toBe(404);
  });

  it('answers 400 for malformed JSON and for a body of the wrong shape, naming the field', async () => {
    const notJson = await post('{"hostname": ');
    expect(notJson.status).toBe(400);
    expect(await notJson.json()).toMatchObject({ error: 'malformed_json' });
    const wrongShape = await post({
      hostname: 'web-01',
      rolloutId: STABLE,
      event: { kind: 'DispatchAck', seq: -1 },
    });
    expect(wrongShape.status).toBe(400);
    const body = (await wrongShape.json()) as { error: string; detail: string };
    expect(body.error).toBe('invalid_body');
    expect(body.detail).toContain('event.');
  });

  it('answers 403 when the client certificate names another host (mTLS)', async () => {
    const res = await post(envelope('web-02', wire.ack(1)), { 'x-test-cn': 'agent-web-01' }, mtlsCore.app);
    expect(res.status).toBe(403);
    expect(await res.json()).toMatchObject({ error: 'identity_mismatch' });
    expect(hostState(core, 'web-02')).toBe('Pending');
    const unauthenticated = await post(envelope('web-02', wire.ack(1)), {}, mtlsCore.app);
    expect(unauthenticated.status).toBe(401);
  });

  it('refuses an unsupported protocol major with 426 and a non-integer header with 400', async () => {
    const newer = await post(envelope('web-02', wire.ack(1)), { 'X-Nixfleet-Protocol': '2' });
    expect(newer.status).toBe(426);
    const junk = await post(envelope('web-02', wire.ack(1)), { 'X-Nixfleet-Protocol': 'one' });
    expect(junk.status).toBe(400);
    expect(hostState(core, 'web-02')).toBe('Pending');
    expect((await post(envelope('web-02', wire.ack(1)), { 'X-Nixfleet-Protocol': '1' })).status).toBe(204);
  });

  it('records enforce probe failures once per event, even when the effect re-runs (spec §7.8, §7.13)', async () => {
    await post(envelope('web-02', wire.completed(2, 'web-02')));
    const sub = [
      { controlId: 'cis-1', status: 'fail', framework: 'cis', effectiveMode: 'enforce' },
      { controlId: 'cis-2', status: 'pass', framework: 'cis' },
      { controlId: 'cis-3', status: 'fail', framework: 'cis', effectiveMode: 'observe' },
    ];
    expect((await post(envelope('web-02', wire.probe(3, 'fail', sub)))).status).toBe(204);
    expect((await post(envelope('web-02', wire.probe(3, 'fail', sub)))).status).toBe(204);
    const rows = await db.handle.db.select().from(probeFailures).where(eq(probeFailures.hostId, 'web-02'));
    expect(rows.map((r) => r.controlId)).toEqual(['cis-1']);
    expect(rows[0]?.eventLogSeq).not.toBeNull();
  });

  it('quarantines the target closure when a host reverts (G1), idempotently', async () => {
    await post(envelope('web-03', wire.ack(1)));
    expect((await post(envelope('web-03', wire.activationFailed(2)))).status).toBe(204);
    expect(hostState(core, 'web-03')).toBe('Failed');
    expect((await post(envelope('web-03', wire.rolledBack(3)))).status).toBe(204);
    expect(hostState(core, 'web-03')).toBe('Reverted');
    const rows = await db.handle.db.select().from(quarantinedClosures);
    expect(rows).toMatchObject([{ channel: 'stable', closureHash: 'target-web-03' }]);
    // The rollout actor heard about it through RecordTransition → HostStateChanged.
    expect(core.runtime.snapshotOf('rollout', rolloutKey(STABLE))?.value).toBe('Failed');
    const [row] = await db.handle.db.select().from(rollouts).where(eq(rollouts.rolloutId, STABLE));
    expect(row?.state).toBe('Failed');
  });

  it('feeds the rollout actor until Terminal once every host of the rollout converged (spec §7.3)', async () => {
    const solo = 'canary@abc123';
    await openRollout(core, ['solo-01', 'solo-02'], solo);
    for (const host of ['solo-01', 'solo-02']) {
      for (const e of [wire.ack(1), wire.completed(2, host), wire.converged(3, `target-${host}`)]) {
        expect((await post(envelope(host, e, solo))).status).toBe(204);
      }
      expect(hostState(core, host, solo)).toBe('Converged');
      const expected = host === 'solo-01' ? 'Active' : 'Terminal';
      expect(core.runtime.snapshotOf('rollout', rolloutKey(solo))?.value).toBe(expected);
    }
    const [row] = await db.handle.db.select().from(rollouts).where(eq(rollouts.rolloutId, solo));
    expect(row).toMatchObject({ state: 'Terminal' });
    expect(row?.terminalAt).not.toBeNull();
  });
});

describe('when the database is gone', () => {
  it('answers 503 with Retry-After to events and heartbeats: nothing applied, retry later', async () => {
    const lost = await createTestDatabase();
    const w = await createReleaseWorld();
    await w.writeRelease();
    const c = await startCore(lost.handle, w, { listen: false });
    await openRollout(c, ['web-01']);
    // Every connection of the pool ends: the next step cannot be made durable.
    await lost.handle.close();
    const res = await c.app.request('/v1/agent/events', postJson(envelope('web-01', wire.ack(1))));
    expect(res.status).toBe(503);
    expect(res.headers.get('Retry-After')).toBe('30');
    expect(await res.json()).toMatchObject({ error: 'store_unavailable' });
    expect(hostState(c, 'web-01')).toBe('Pending');
    const beat = await c.app.request(
      '/v1/agent/heartbeat',
      postJson({ hostname: 'web-01', at: new Date().toISOString(), current_closure: 'target-web-01' }),
    );
    expect(beat.status).toBe(503);
    const poll = await c.app.request('/v1/agent/dispatch?wait=0&hostname=web-01');
    expect(poll.status).toBe(503);
    expect((await c.app.request('/metrics')).status).toBe(503);
    await c.stop().catch(() => undefined);
    await lost.drop();
    await w.cleanup();
  });
});
