// The CP effect applier's crash contract (actors/actorRuntime.ts, spec §7.8): every effect may run
// again after a crash, so running the outbox twice changes nothing; and effects left in the outbox
// that need the runtime itself (rollout events) are run right after the next start.
import { eq, isNull } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rolloutKey } from '../../actors/index.ts';
import { type ControlPlaneCore, createCpApplier } from '../../cp/index.ts';
import { effectOutbox, probeFailures, quarantinedClosures } from '../../db/index.ts';
import { createTestDatabase, type TestDatabase } from '../support/postgres.ts';
import {
  createReleaseWorld,
  envelope,
  openRollout,
  postJson,
  type ReleaseWorld,
  silentLogger,
  startCore,
  wire,
} from './support.ts';

let db: TestDatabase;
let world: ReleaseWorld;
let core: ControlPlaneCore;

beforeAll(async () => {
  db = await createTestDatabase();
  world = await createReleaseWorld();
  await world.writeRelease();
  core = await startCore(db.handle, world, { listen: false });
});

afterAll(async () => {
  await core?.stop();
  await db?.drop();
  await world?.cleanup();
});

const post = (host: string, e: Parameters<typeof envelope>[1], rolloutId: string) =>
  core.app.request('/v1/agent/events', postJson(envelope(host, e, rolloutId)));

describe('CP effect applier', () => {
  it('re-running every effect of the outbox adds no row and moves no actor (idempotent)', async () => {
    const r = 'again@abc123';
    await openRollout(core, ['a-01', 'a-02'], r);
    const fail = [{ controlId: 'c-1', status: 'fail', framework: 'cis', effectiveMode: 'enforce' }];
    for (const e of [wire.ack(1), wire.completed(2, 'a-01'), wire.probe(3, 'fail', fail)]) {
      expect((await post('a-01', e, r)).status).toBe(204);
    }
    for (const e of [wire.ack(1), wire.activationFailed(2), wire.rolledBack(3)]) {
      expect((await post('a-02', e, r)).status).toBe(204);
    }
    const count = async () => ({
      failures: (await db.handle.db.select().from(probeFailures)).length,
      quarantines: (await db.handle.db.select().from(quarantinedClosures)).length,
      rollout: core.runtime.versionOf(rolloutKey(r)),
    });
    const before = await count();
    expect(before).toMatchObject({ failures: 1, quarantines: 1 });

    const entries = (await db.handle.db.select().from(effectOutbox)).map((row) => ({
      key: row.actorKey,
      version: row.actorSeq,
      idx: row.idx,
      effect: row.effect as { type: string } & Record<string, unknown>,
    }));
    expect(entries.map((e) => e.effect.type)).toEqual(
      expect.arrayContaining(['RemoteAppendEventLog', 'RecordTransition', 'RemoteInsertQuarantine']),
    );
    const applier = createCpApplier({
      db: db.handle.db,
      clock: { now: () => new Date(), setTimeout: () => 0, clearTimeout: () => undefined },
      logger: silentLogger,
      runtime: () => core.runtime,
    });
    for (const entry of entries) await applier(entry);
    const after = await count();
    expect(after.failures).toBe(before.failures);
    expect(after.quarantines).toBe(before.quarantines);
    // The rollout chart refuses the replayed transitions (it is Failed, a final state for them).
    expect(core.runtime.snapshotOf('rollout', rolloutKey(r))?.value).toBe('Failed');
  });

  it('runs rollout-bound effects left in the outbox right after the next start', async () => {
    const r = 'crash@abc123';
    await openRollout(core, ['c-01'], r);
    // As if the CP died after the host's step committed and before its RecordTransition ran.
    await db.handle.db.insert(effectOutbox).values({
      actorKey: `host:${r}/c-01`,
      actorSeq: 99,
      idx: 0,
      effect: {
        type: 'RecordTransition',
        host: 'c-01',
        rolloutId: r,
        from: 'Activating',
        to: 'Failed',
        at: new Date().toISOString(),
      },
    });
    await core.stop();
    core = await startCore(db.handle, world, { listen: false });
    expect(core.runtime.snapshotOf('rollout', rolloutKey(r))?.value).toBe('Failed');
    const pending = await db.handle.db.select().from(effectOutbox).where(isNull(effectOutbox.doneAt));
    expect(pending.filter((p) => p.actorKey === `host:${r}/c-01`)).toEqual([]);
    const [done] = await db.handle.db.select().from(effectOutbox).where(eq(effectOutbox.actorSeq, 99));
    expect(done?.doneAt).not.toBeNull();
  });
});
