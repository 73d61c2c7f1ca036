// Per-actor order survives a store failure: sends queued behind a failed step are failed too, so
// the sender's in-order retry cannot be overtaken and silently dropped as a duplicate.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  ActorRuntime,
  ActorStoreError,
  type ActorWrite,
  FileSnapshotStore,
  hostRolloutKey,
  type SnapshotStore,
} from '../../actors/index.ts';
import { hostInput, remote } from './support.ts';

const RID = 'stable@order1';

/** A store whose write fails once, for the step that carries `failAtVersion`. */
function failOnce(inner: SnapshotStore, failAtVersion: number): SnapshotStore {
  let failed = false;
  return new Proxy(inner, {
    get(target, prop, receiver) {
      if (prop === 'write') {
        return async (batch: readonly ActorWrite[], marks?: unknown) => {
          if (!failed && batch.some((w) => w.version === failAtVersion)) {
            failed = true;
            throw new Error('simulated: connection reset during COMMIT');
          }
          return target.write(batch, marks as never);
        };
      }
      const v = Reflect.get(target, prop, receiver);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
}

describe('ordering under store failure', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'nixfleet-order-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('fails the sends queued behind a failed step, and the in-order retry applies everything once', async () => {
    const store = failOnce(await FileSnapshotStore.open(dir), 3);
    const rt = await ActorRuntime.start({ store });
    await rt.spawn('hostRollout', hostInput('web-01', RID));
    const key = hostRolloutKey(RID, 'web-01');
    const events = [
      remote.ack(1),
      remote.completed(2, 'web-01'),
      ...[3, 4, 5, 6].map((s) => remote.probe(s)),
    ];
    // Pipelined: nothing awaited between sends.
    const outcomes = await Promise.allSettled(events.map((e) => rt.send('hostRollout', key, e)));
    expect(outcomes.map((o) => o.status)).toEqual([
      'fulfilled',
      'fulfilled',
      'rejected',
      'rejected',
      'rejected',
      'rejected',
    ]);
    for (const o of outcomes.slice(2)) {
      expect(o.status === 'rejected' && o.reason).toBeInstanceOf(ActorStoreError);
    }
    expect(rt.snapshotOf('hostRollout', key)?.context.lastEventSeq).toBe(2);
    // The sender re-sends what was not acknowledged, in order.
    for (const e of events.slice(2)) expect((await rt.send('hostRollout', key, e)).ok).toBe(true);
    expect(rt.snapshotOf('hostRollout', key)?.context.lastEventSeq).toBe(6);
    await rt.stop();
    const again = await ActorRuntime.start({ store: await FileSnapshotStore.open(dir) });
    expect(again.snapshotOf('hostRollout', key)?.context.lastEventSeq).toBe(6);
    await again.stop();
  });

  it('other actors are not held back by one actor’s failure', async () => {
    const store = failOnce(await FileSnapshotStore.open(dir), 1);
    const rt = await ActorRuntime.start({ store });
    await rt.spawn('hostRollout', hostInput('a', RID));
    await rt.spawn('hostRollout', hostInput('b', RID));
    const a = hostRolloutKey(RID, 'a');
    const b = hostRolloutKey(RID, 'b');
    const [a1, a2] = await Promise.allSettled([
      rt.send('hostRollout', a, remote.ack(1)),
      rt.send('hostRollout', a, remote.completed(2, 'a')),
    ]);
    expect([a1?.status, a2?.status]).toEqual(['rejected', 'rejected']);
    // b's steps are independent of a's failure.
    expect((await rt.send('hostRollout', b, remote.ack(1))).ok).toBe(true);
    expect((await rt.send('hostRollout', b, remote.completed(2, 'b'))).ok).toBe(true);
    // And a recovers with an in-order retry.
    expect((await rt.send('hostRollout', a, remote.ack(1))).ok).toBe(true);
    expect((await rt.send('hostRollout', a, remote.completed(2, 'a'))).ok).toBe(true);
    await rt.stop();
  });
});
