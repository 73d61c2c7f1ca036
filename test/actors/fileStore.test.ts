// The agent's file-backed snapshot store under the same runtime: atomic per-actor files in a
// state dir, fenced writes, quarantine of unreadable files, outbox and timers across restarts.
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ActorRuntime, FileSnapshotStore, hostRolloutKey, type OutboxEntry } from '../../actors/index.ts';
import { persistHostRollout } from '../../machines/index.ts';
import { hostInput, ManualClock, remote, rolloutInput, until } from './support.ts';

const RID = 'stable@file1';

describe('file snapshot store', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'nixfleet-actors-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const start = async (options: Partial<Parameters<typeof ActorRuntime.start>[0]> = {}) =>
    ActorRuntime.start({ store: await FileSnapshotStore.open(dir), ...options });

  it('persists each step atomically and rehydrates the exact snapshot', async () => {
    const rt = await start();
    await rt.spawn('rollout', rolloutInput(RID));
    await rt.spawn('hostRollout', hostInput('web-01', RID));
    const key = hostRolloutKey(RID, 'web-01');
    for (const e of [remote.ack(1), remote.started(2), remote.completed(3, 'web-01'), remote.probe(4)]) {
      expect((await rt.send('hostRollout', key, e)).ok).toBe(true);
    }
    const live = rt.snapshotOf('hostRollout', key);
    await rt.stop();
    expect((await readdir(dir)).filter((n) => n.startsWith('.tmp-'))).toEqual([]);
    const again = await start();
    const restored = again.snapshotOf('hostRollout', key);
    if (live === undefined || restored === undefined) expect.fail('actor missing');
    expect(persistHostRollout(restored)).toEqual(persistHostRollout(live));
    expect(again.versionOf(key)).toBe(4);
    await again.stop();
  });

  it('ignores the temporary file of an interrupted write', async () => {
    const rt = await start();
    await rt.spawn('hostRollout', hostInput('web-02', RID));
    await rt.stop();
    await writeFile(join(dir, '.tmp-999-0-garbage.json'), '{"torn":');
    const again = await start();
    expect(again.keys()).toEqual([hostRolloutKey(RID, 'web-02')]);
    expect(again.quarantined.size).toBe(0);
    await again.stop();
  });

  it('serialises concurrent senders and fences a second runtime on the same directory', async () => {
    const a = await start();
    await a.spawn('hostRollout', hostInput('web-03', RID));
    const key = hostRolloutKey(RID, 'web-03');
    const b = await start();
    await a.send('hostRollout', key, remote.ack(1));
    await a.send('hostRollout', key, remote.completed(2, 'web-03'));
    const probes = Array.from({ length: 20 }, (_, i) => remote.probe(3 + i));
    const results = await Promise.all([...probes, ...probes].map((e) => a.send('hostRollout', key, e)));
    expect(results.filter((r) => r.ok)).toHaveLength(20);
    // b still believes the actor is Pending at version 0: its replay and its next event must both
    // be decided against the file, not its memory.
    expect(await b.send('hostRollout', key, remote.ack(1))).toMatchObject({
      ok: false,
      error: { code: 'SeqRegression' },
    });
    expect((await b.send('hostRollout', key, remote.probe(23, 'fail'))).ok).toBe(true);
    expect(b.snapshotOf('hostRollout', key)?.context.lastEventSeq).toBe(23);
    await a.stop();
    await b.stop();
  });

  it('quarantines an unreadable file and a snapshot of an unknown chart version, keeping their bytes', async () => {
    const rt = await start();
    await rt.spawn('hostRollout', hostInput('good', RID));
    await rt.spawn('hostRollout', hostInput('torn', RID));
    await rt.spawn('hostRollout', hostInput('future', RID));
    await rt.stop();
    const file = (h: string) => join(dir, `${encodeURIComponent(hostRolloutKey(RID, h))}.json`);
    await writeFile(file('torn'), '{"format":1,"key":');
    const future = JSON.parse(await readFile(file('future'), 'utf8'));
    future.persisted.machineVersion = 7;
    await writeFile(file('future'), JSON.stringify(future));

    const failures: string[] = [];
    const again = await start({ onRestoreFailure: (f) => failures.push(f.key) });
    expect(again.keys()).toEqual([hostRolloutKey(RID, 'good')]);
    expect(failures.sort()).toEqual([hostRolloutKey(RID, 'future'), hostRolloutKey(RID, 'torn')].sort());
    expect((await readdir(dir)).filter((n) => n.endsWith('.quarantined')).length).toBe(2);
    await again.stop();
    // Quarantined files stay out of the way on the next start.
    const third = await start();
    expect(third.keys()).toEqual([hostRolloutKey(RID, 'good')]);
    await third.stop();
  });

  it('re-runs effects that were not marked done, and marking never loses a newer step', async () => {
    const seen: OutboxEntry[] = [];
    const rt = await start({ applyEffect: (e) => void seen.push(e) });
    await rt.spawn('hostRollout', hostInput('web-04', RID));
    const key = hostRolloutKey(RID, 'web-04');
    await rt.send('hostRollout', key, remote.ack(1));
    await rt.send('hostRollout', key, remote.completed(2, 'web-04'));
    // Effect marking runs in the background while these steps write the same file.
    for (let s = 3; s < 30; s++) expect((await rt.send('hostRollout', key, remote.probe(s))).ok).toBe(true);
    await rt.stop();
    expect(seen.length).toBe(2 + 2 + 27);
    const rerun: OutboxEntry[] = [];
    const again = await start({ applyEffect: (e) => void rerun.push(e) });
    expect(rerun).toEqual([]);
    expect(again.snapshotOf('hostRollout', key)?.context.lastEventSeq).toBe(29);
    await again.stop();

    // Now with an applier that fails: the effect survives a restart and runs then.
    const failing = await start({
      applyEffect: () => {
        throw new Error('down');
      },
      onEffectError: () => {},
    });
    await failing.send('hostRollout', key, remote.probe(30));
    await failing.stop();
    const later: OutboxEntry[] = [];
    const fourth = await start({ applyEffect: (e) => void later.push(e) });
    expect(later.map((e) => [e.effect.type, e.version])).toEqual([['RemoteAppendEventLog', 30]]);
    await fourth.stop();
  });

  it('keeps durable timers across restarts', async () => {
    const clock = new ManualClock();
    const rt = await start({ clock });
    await rt.spawn('hostRollout', hostInput('web-05', RID));
    const key = hostRolloutKey(RID, 'web-05');
    await rt.send('hostRollout', key, remote.ack(1), {
      armTimers: [
        {
          timerId: 'deadline',
          event: { ...remote.activationFailed(0) },
          dueAt: new Date(clock.now().getTime() + 60_000),
        },
      ],
    });
    await rt.stop();
    const clock2 = new ManualClock(clock.now().getTime());
    const again = await start({ clock: clock2 });
    clock2.advance(60_000);
    await until(() => again.snapshotOf('hostRollout', key)?.value === 'Failed', 10_000, 'timer to fire');
    await again.stop();
    const third = await start({ clock: new ManualClock() });
    expect(third.snapshotOf('hostRollout', key)?.value).toBe('Failed');
    await third.stop();
  });
});
