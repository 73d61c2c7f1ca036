// The same control-plane core on embedded PGlite, the default without DATABASE_URL (STYLE habit 6):
// the plan loop opens the release's rollout and dispatches over the long-poll, events are applied
// with the same statuses, and a NOTIFY issued by an enqueue on the engine wakes a held poll.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ControlPlaneCore, createPlanRunner, enqueueDispatch } from '../../cp/index.ts';
import { createPgliteTestDatabase, type PgliteTestDatabase } from '../support/pglite.ts';
import { CLOSURE_A } from '../trust/support.ts';
import {
  createReleaseWorld,
  envelope,
  postJson,
  type ReleaseWorld,
  STABLE,
  startCore,
  until,
  wire,
} from './support.ts';

let db: PgliteTestDatabase;
let world: ReleaseWorld;
let core: ControlPlaneCore;

beforeAll(async () => {
  db = await createPgliteTestDatabase();
  world = await createReleaseWorld();
  await world.writeRelease();
  core = await startCore(db.handle, world, { planner: createPlanRunner() });
});

afterAll(async () => {
  await core?.stop();
  await db?.drop();
  await world?.cleanup();
});

const poll = (hostname: string, wait: string) =>
  core.app.request(`/v1/agent/dispatch?wait=${wait}&hostname=${hostname}`);

describe('control plane on PGlite', () => {
  it('plans the release and dispatches wave 0 over the long-poll', async () => {
    const res = await poll('web-01', '10');
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({
      hostname: 'web-01',
      rollout_id: STABLE,
      target_closure: CLOSURE_A,
    });
  });

  it('applies events: 204, duplicate 204, 409, 404', async () => {
    const post = (body: unknown) => core.app.request('/v1/agent/events', postJson(body));
    expect((await post(envelope('web-01', wire.ack(1)))).status).toBe(204);
    expect((await post(envelope('web-01', wire.ack(1)))).status).toBe(204);
    expect((await post(envelope('web-01', wire.rolledBack(2)))).status).toBe(409);
    expect((await post(envelope('web-09', wire.ack(1)))).status).toBe(404);
  });

  it('wakes a held poll on the NOTIFY of an enqueue made outside the dispatcher', async () => {
    const pending = poll('solo', '30');
    await until(() => core.wakeups.waiting > 0, 5_000, 'the poll to be held');
    await enqueueDispatch(db.handle.db, {
      hostname: 'solo',
      rolloutId: 'other@1',
      targetClosure: 'c',
      soakDueAt: new Date(),
      enqueuedAt: new Date(),
    });
    const res = await pending;
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ hostname: 'solo' });
  });
});
