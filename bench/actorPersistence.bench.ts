// Issue 3's figures: events/s applied through actor + PostgreSQL persistence (one actor; many
// actors with group commit) as a ratio to a bare single-row INSERT loop measured in the same run,
// and the time and memory to rehydrate 10,000 host-rollout actors.
import { sql } from 'drizzle-orm';
import { ActorRuntime, hostRolloutKey, PostgresSnapshotStore } from '../actors/index.ts';
import type { HostRolloutEvent } from '../machines/index.ts';
import { createBenchDatabase, fmt, printTable, time } from './support.ts';

const T0 = Date.parse('2026-05-16T01:00:00Z');
const at = (s: number) => new Date(T0 + s * 1000).toISOString();
const probe = (seq: number): HostRolloutEvent => ({
  type: 'RemoteProbeResult',
  seq,
  probeName: 'nginx',
  mode: 'enforce',
  status: 'pass',
  observedAt: at(seq),
  failureReason: null,
  subResults: null,
});

const BARE_INSERTS = 3000;
const ONE_ACTOR_EVENTS = 3000;
const MANY_ACTORS = 1000;
const EVENTS_PER_ACTOR = 10;
const REHYDRATE_ACTORS = 10_000;

export async function runActorPersistenceBench(): Promise<void> {
  const db = await createBenchDatabase();
  try {
    const { handle } = db;
    const store = new PostgresSnapshotStore(handle.db);
    const noop = () => {};

    // Baseline: what the server does with one autocommitted single-row INSERT at a time.
    const bare = await time(async () => {
      for (let i = 0; i < BARE_INSERTS; i++) {
        await handle.db.execute(
          sql`INSERT INTO event_log (ts, kind, payload) VALUES (${at(i)}, 'plan', ${JSON.stringify({ i })}::jsonb)`,
        );
      }
    });
    const bareRate = (BARE_INSERTS / bare.ms) * 1000;

    const rt = await ActorRuntime.start({ store, applyEffect: noop });
    const rid = 'bench@one';
    await rt.spawn('rollout', { rolloutId: rid, channel: 'bench', targetRef: 'one', openedAt: at(0) });
    const seed = (host: string, rolloutId: string) =>
      rt.spawn('hostRollout', {
        rolloutId,
        hostname: host,
        channel: 'bench',
        targetClosure: 'target',
        dispatchedAt: at(0),
        soakDueAt: at(60),
      });
    const toSoaking = async (key: string) => {
      await rt.send('hostRollout', key, {
        type: 'RemoteDispatchAck',
        seq: 1,
        currentClosureAtDispatch: 'p',
        receivedAt: at(1),
      });
      await rt.send('hostRollout', key, {
        type: 'RemoteActivationCompleted',
        seq: 2,
        observedCurrentClosure: 'target',
        exitCode: 0,
        completedAt: at(2),
      });
    };
    await seed('solo', rid);
    const soloKey = hostRolloutKey(rid, 'solo');
    await toSoaking(soloKey);
    const one = await time(async () => {
      for (let s = 3; s < 3 + ONE_ACTOR_EVENTS; s++) {
        const r = await rt.send('hostRollout', soloKey, probe(s));
        if (!r.ok) throw new Error(`bench step refused: ${JSON.stringify(r.error)}`);
      }
    });
    const oneRate = (ONE_ACTOR_EVENTS / one.ms) * 1000;

    const rid2 = 'bench@many';
    await rt.spawn('rollout', { rolloutId: rid2, channel: 'bench', targetRef: 'many', openedAt: at(0) });
    const hosts = Array.from({ length: MANY_ACTORS }, (_, i) => `h${i}`);
    await Promise.all(hosts.map((h) => seed(h, rid2)));
    await Promise.all(hosts.map((h) => toSoaking(hostRolloutKey(rid2, h))));
    const many = await time(() =>
      Promise.all(
        hosts.map(async (h) => {
          const key = hostRolloutKey(rid2, h);
          for (let s = 3; s < 3 + EVENTS_PER_ACTOR; s++) {
            const r = await rt.send('hostRollout', key, probe(s));
            if (!r.ok) throw new Error('bench step refused');
          }
        }),
      ),
    );
    const manyRate = ((MANY_ACTORS * EVENTS_PER_ACTOR) / many.ms) * 1000;
    await rt.stop();

    printTable(
      'Actor steps persisted to PostgreSQL (snapshot + event log + outbox per step, one transaction)',
      [
        ['measurement', 'events', 'ms', 'events/s', 'vs bare INSERT'],
        ['bare single-row INSERT loop (baseline)', fmt(BARE_INSERTS), fmt(bare.ms), fmt(bareRate), '1.00x'],
        [
          'one actor, sequential',
          fmt(ONE_ACTOR_EVENTS),
          fmt(one.ms),
          fmt(oneRate),
          `${fmt(oneRate / bareRate, 2)}x`,
        ],
        [
          `${fmt(MANY_ACTORS)} actors, concurrent (group commit)`,
          fmt(MANY_ACTORS * EVENTS_PER_ACTOR),
          fmt(many.ms),
          fmt(manyRate),
          `${fmt(manyRate / bareRate, 2)}x`,
        ],
      ],
    );
    console.log('  target: many actors >= 0.50x of the bare INSERT rate');

    // Rehydration: 10,000 host-rollout actors written through the runtime, then a cold start.
    const rid3 = 'bench@rehydrate';
    const seeder = await ActorRuntime.start({ store });
    await seeder.spawn('rollout', {
      rolloutId: rid3,
      channel: 'bench',
      targetRef: 'rehydrate',
      openedAt: at(0),
    });
    const many10k = Array.from({ length: REHYDRATE_ACTORS }, (_, i) => `r${i}`);
    for (let i = 0; i < many10k.length; i += 1000) {
      await Promise.all(
        many10k.slice(i, i + 1000).map(async (h, j) => {
          await seeder.spawn('hostRollout', {
            rolloutId: rid3,
            hostname: h,
            channel: 'bench',
            targetClosure: 'target',
            dispatchedAt: at(0),
            soakDueAt: at(60),
          });
          // Half of them further along, so snapshots are not all the trivial Pending one.
          if (j % 2 === 0) {
            await seeder.send('hostRollout', hostRolloutKey(rid3, h), {
              type: 'RemoteDispatchAck',
              seq: 1,
              currentClosureAtDispatch: 'p',
              receivedAt: at(1),
            });
          }
        }),
      );
    }
    await seeder.stop();
    const total = REHYDRATE_ACTORS + MANY_ACTORS + 1 + 3;
    global.gc?.();
    const heap0 = process.memoryUsage().heapUsed;
    const rss0 = process.memoryUsage().rss;
    const cold = await time(() => ActorRuntime.start({ store }));
    global.gc?.();
    const heap1 = process.memoryUsage().heapUsed;
    const rss1 = process.memoryUsage().rss;
    if (cold.value.size !== total) throw new Error(`rehydrated ${cold.value.size} actors, expected ${total}`);
    await cold.value.stop();
    printTable('Rehydration at start (load rows, validate, restore)', [
      ['actors', 'ms', 'heap delta', 'rss delta', 'per actor'],
      [
        fmt(cold.value.size),
        fmt(cold.ms),
        `${fmt((heap1 - heap0) / 2 ** 20, 1)} MiB`,
        `${fmt((rss1 - rss0) / 2 ** 20, 1)} MiB`,
        `${fmt((cold.ms * 1000) / cold.value.size, 1)} µs`,
      ],
    ]);
    console.log(`  target: ${fmt(REHYDRATE_ACTORS)} host-rollout actors under 2,000 ms`);
  } finally {
    await db.drop();
  }
}
