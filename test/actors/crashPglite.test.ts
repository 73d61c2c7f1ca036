// Crash between steps on the embedded default, PGlite on a data directory: kill -9 of the process
// that owns the directory loses no acknowledged event and applies none twice.
//
// What this rests on (measured on PGlite 0.5.16, Node 20): PGlite runs PostgreSQL single-user with
// synchronous_commit=on, so a commit writes its WAL record (pwrite through Emscripten's NODEFS into
// the host file) before the query resolves; the page cache outlives a killed process and the next
// open replays the WAL. It is NOT durable against an OS crash or power loss: PGlite starts with
// fsync=off (`-F`), and even with fsync=on Emscripten's fsync/fdatasync never reach the host.
// Nor with synchronous_commit=off: single-user mode has no WAL writer, and kill -9 then lost every
// acknowledged commit in our runs; this suite fails on it.
//
// PGlite is one process and takes no lock on its directory (a second open of a live directory
// succeeds, and nothing stops two engines writing the same files), so each directory has exactly
// one owner at a time: a worker process, or after its death this test. The test inspects a copy of the crashed directory, so the
// next worker still starts on the crashed original and runs crash recovery itself.
// - a kill -9 at an early, a middle and a late point of the stream;
// - a kill right after a commit, before any of its sends is acknowledged (the worker kills itself);
// - kills in a row, each restart starting on a directory whose last owner was killed.
// Each host event leaves its own trace in the snapshot (see `hostEvent`), so states are compared
// with a pure fold of the chart over seqs 1..N: a lost update or a replayed step shows.
import { type ChildProcess, spawn } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { sql } from 'drizzle-orm';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { hostRolloutKey, hostRolloutKind, type OutboxEntry } from '../../actors/index.ts';
import { type Database, migrateDatabase, openPglite, sqlRows } from '../../db/index.ts';
import { type HostRolloutSnapshot, persistHostRollout } from '../../machines/index.ts';
import { hostEvent, hostName } from './fixtures/runtimeWorker.ts';
import { hostInput, until } from './support.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const WORKER = fileURLToPath(new URL('./fixtures/pgliteRuntimeWorker.ts', import.meta.url));
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

// ---------------------------------------------------------------------------------------------
// The expected outcome: the chart folded over seqs 1..upTo, each applied exactly once.

interface Expected {
  persisted: unknown;
  /** Effect ids `key#version#idx` of every step. */
  effects: Set<string>;
  transitions: number;
}

function expectedHost(rolloutId: string, host: string, upTo: number): Expected {
  const key = hostRolloutKey(rolloutId, host);
  let s: HostRolloutSnapshot = hostRolloutKind.create(hostInput(host, rolloutId));
  const effects = new Set<string>();
  let transitions = 0;
  for (const seq of range(1, upTo)) {
    const r = hostRolloutKind.step(s, hostEvent(host, seq));
    if (!r.ok) throw new Error(`the fold refused ${host} seq ${seq}: ${r.error.code}`);
    s = r.snapshot;
    r.effects.forEach((e, idx) => {
      effects.add(`${key}#${seq}#${idx}`);
      if (e.type === 'RecordTransition') transitions++;
    });
  }
  return { persisted: JSON.parse(JSON.stringify(persistHostRollout(s))), effects, transitions };
}

// ---------------------------------------------------------------------------------------------
// What a data directory holds.

interface DirState {
  /** host → lastEventSeq (-1: no row). */
  seqs: Map<string, number>;
  snapshots: Map<string, unknown>;
  /** host → [actor_seq, number of agent_event rows with it], in seq order. */
  logged: Map<string, [number, number][]>;
  /** host → number of `effect` (RecordTransition) rows: they have no idempotency key, so a step
   * committed twice would show here even though its agent_event row is absorbed by the unique key. */
  transitions: Map<string, number>;
  /** Outbox entries not marked done, `key#version#idx`. */
  pending: string[];
}

async function readState(db: Database, rolloutId: string): Promise<DirState> {
  const hosts = await sqlRows<{ hostname: string; seq: number; snapshot: unknown }>(
    db,
    sql`SELECT hostname, last_event_seq::int AS seq, snapshot FROM host_rollout_records
        WHERE rollout_id = ${rolloutId}`,
  );
  const events = await sqlRows<{ host: string; seq: number; n: number }>(
    db,
    sql`SELECT host_id AS host, actor_seq::int AS seq, count(*)::int AS n FROM event_log
        WHERE rollout_id = ${rolloutId} AND kind = 'agent_event'
        GROUP BY host_id, actor_seq ORDER BY host_id, actor_seq`,
  );
  const transitions = await sqlRows<{ host: string; n: number }>(
    db,
    sql`SELECT host_id AS host, count(*)::int AS n FROM event_log
        WHERE rollout_id = ${rolloutId} AND kind = 'effect' GROUP BY host_id`,
  );
  const pending = await sqlRows<{ id: string }>(
    db,
    sql`SELECT actor_key || '#' || actor_seq || '#' || idx AS id FROM effect_outbox WHERE done_at IS NULL`,
  );
  const logged = new Map<string, [number, number][]>();
  for (const r of events) logged.set(r.host, [...(logged.get(r.host) ?? []), [r.seq, r.n]]);
  return {
    seqs: new Map(hosts.map((r) => [r.hostname, r.seq])),
    snapshots: new Map(hosts.map((r) => [r.hostname, r.snapshot])),
    logged,
    transitions: new Map(transitions.map((r) => [r.host, r.n])),
    pending: pending.map((r) => r.id).sort(),
  };
}

/**
 * Reads what `dataDir` holds as a restart would find it, without touching it: the directory is
 * copied (its owner is dead, so the copy is exactly what the kill left) and the copy is opened, which
 * runs crash recovery on the copy only.
 */
async function inspectCrashed(dataDir: string, rolloutId: string): Promise<DirState> {
  const copy = `${dataDir}-inspect-${Date.now()}`;
  cpSync(dataDir, copy, { recursive: true });
  try {
    return await inspect(copy, rolloutId);
  } finally {
    rmSync(copy, { recursive: true, force: true });
  }
}

async function inspect(dataDir: string, rolloutId: string): Promise<DirState> {
  const handle = await openPglite({ dataDir });
  try {
    return await readState(handle.db, rolloutId);
  } finally {
    await handle.close();
  }
}

/** Each host's durable prefix is consistent: seqs 1..d logged once each, state = the fold to d. */
function expectPrefixes(state: DirState, rolloutId: string, hosts: readonly string[], when: string): void {
  for (const host of hosts) {
    const d = state.seqs.get(host) ?? -1;
    const want = expectedHost(rolloutId, host, Math.max(d, 0));
    expect(state.logged.get(host) ?? [], `${host} agent_event rows ${when}`).toEqual(
      range(1, d).map((s) => [s, 1]),
    );
    expect(state.transitions.get(host) ?? 0, `${host} transition rows ${when}`).toBe(want.transitions);
    expect(state.snapshots.get(host), `${host} snapshot ${when}`).toEqual(want.persisted);
  }
}

// ---------------------------------------------------------------------------------------------
// The worker process (test/actors/fixtures/pgliteRuntimeWorker.ts).

interface ResultLine {
  host: string;
  seq: number;
  result: string;
  message?: string;
}

const live = new Set<WorkerProcess>();
const dirs: string[] = [];

class WorkerProcess {
  readonly child: ChildProcess;
  readonly results: ResultLine[] = [];
  readonly effects: string[] = [];
  booted = false;
  ready: { pid: number; seqs: Record<string, number> } | undefined;
  /** The effects run before `ready`: the outbox the previous owner left, re-run at start. */
  effectsAtReady: string[] = [];
  done = false;
  stderr = '';
  /** Set once the process exited and its stdout/stderr are fully read. */
  closed: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  /** SIGKILL the moment this many sends have been acknowledged `ok`. */
  #killAtOks = Number.POSITIVE_INFINITY;
  #oks = 0;

  /** Boots and waits for {"start":true} before opening the directory (see `start`). */
  constructor(dataDir: string, rolloutId: string, hosts: number) {
    const args = [WORKER, dataDir, rolloutId, String(hosts), 'await-start'];
    this.child = spawn(process.execPath, ['--import', 'tsx', ...args], {
      cwd: ROOT,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    live.add(this);
    // Writing to a killed child's stdin fails with EPIPE: expected here.
    this.child.stdin?.on('error', () => {});
    this.child.stderr?.on('data', (chunk: Buffer) => {
      this.stderr += chunk.toString();
    });
    const lines = createInterface({ input: this.child.stdout as NodeJS.ReadableStream });
    lines.on('line', (line) => this.#onLine(line));
    this.child.on('close', (code, signal) => {
      this.closed = { code, signal };
      live.delete(this);
    });
  }

  #onLine(line: string): void {
    const msg = JSON.parse(line) as Record<string, unknown>;
    if (msg.booted === true) this.booted = true;
    else if (msg.ready === true) {
      this.ready = msg as never;
      this.effectsAtReady = [...this.effects];
    } else if (msg.done === true) this.done = true;
    else if (typeof msg.effect === 'object' && msg.effect !== null) {
      const e = msg.effect as Omit<OutboxEntry, 'effect'>;
      this.effects.push(`${e.key}#${e.version}#${e.idx}`);
    } else {
      const r = msg as unknown as ResultLine;
      this.results.push(r);
      if (r.result === 'ok' && ++this.#oks >= this.#killAtOks) this.child.kill('SIGKILL');
    }
  }

  /** Waits for `check`; fails at once (with the worker's stderr) if the worker died first. */
  async waitFor(check: () => boolean, ms: number, what: string): Promise<void> {
    await until(
      () => {
        if (check()) return true;
        if (this.closed !== undefined) {
          throw new Error(`worker exited (${JSON.stringify(this.closed)}) before ${what}:\n${this.stderr}`);
        }
        return false;
      },
      ms,
      what,
    );
  }

  /** Opens the directory: only once its previous owner is dead and no handle in this test is open. */
  async start(killAfterCommits?: number): Promise<void> {
    await this.waitFor(() => this.booted, 30_000, 'the worker to boot');
    this.child.stdin?.write(`${JSON.stringify({ start: true, killAfterCommits })}\n`);
    await this.waitFor(() => this.ready !== undefined, 30_000, 'the worker to be ready');
  }

  sendAll(commands: readonly { host: string; seq: number }[]): void {
    this.child.stdin?.write(commands.map((c) => `${JSON.stringify(c)}\n`).join(''));
  }

  endInput(): void {
    this.child.stdin?.end();
  }

  /** Kills the worker from its stdout handler as soon as `oks` sends have been acknowledged `ok`. */
  killAtOks(oks: number): void {
    this.#killAtOks = oks;
    if (this.#oks >= oks) this.child.kill('SIGKILL');
  }

  async kill(): Promise<void> {
    if (this.closed === undefined) this.child.kill('SIGKILL');
    await until(() => this.closed !== undefined, 10_000, 'the killed worker to close');
  }
}

afterEach(async () => {
  try {
    await Promise.all([...live].map((w) => w.kill()));
  } finally {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  }
});

// ---------------------------------------------------------------------------------------------

/**
 * Where a round's worker dies. `acks`: the test kills it once the events acknowledged overall reach
 * a fraction of the stream drawn in [lo, hi) (so the kill lands while the next transaction runs).
 * `commits`: it kills itself once its n-th transaction has committed, n drawn in [lo, hi], before
 * any send of that transaction is acknowledged.
 */
type Kill = { acks: [number, number] } | { commits: [number, number] };

describe('crash between steps (embedded PGlite on a data directory)', () => {
  const HOSTS = 8;
  const EVENTS = 40;

  // A migrated directory to copy: initdb and the migrations take seconds, so only the first case
  // starts, as a control plane's first start does, on an empty directory its worker creates.
  let template = '';
  beforeAll(async () => {
    template = mkdtempSync(join(tmpdir(), 'nixfleet-pglite-template-'));
    const handle = await openPglite({ dataDir: template });
    try {
      await migrateDatabase(handle);
    } finally {
      await handle.close();
    }
  });
  afterAll(() => {
    if (template !== '') rmSync(template, { recursive: true, force: true });
  });

  // Several kills: each restart is killed again before the last one runs the stream to its end.
  it.each<[string, Kill[], 'empty' | 'migrated']>([
    ['early', [{ acks: [0.05, 0.2] }], 'empty'],
    ['mid', [{ acks: [0.4, 0.6] }], 'migrated'],
    ['late', [{ acks: [0.8, 0.92] }], 'migrated'],
    ['between a commit and its acknowledgement', [{ commits: [5, 30] }], 'migrated'],
    ['twice in a row', [{ acks: [0.1, 0.3] }, { acks: [0.45, 0.7] }], 'migrated'],
  ])(
    'kill -9 %s in a stream of host events: acknowledged events survive, re-sends are duplicates',
    async (point, kills, start) => {
      const dataDir = mkdtempSync(join(tmpdir(), 'nixfleet-pglite-crash-'));
      dirs.push(dataDir);
      if (start === 'migrated') cpSync(template, dataDir, { recursive: true });
      const rid = 'stable@kill9';
      const hosts = range(0, HOSTS - 1).map(hostName);
      // Interleaved across hosts, in seq order per host; streamed without waiting for acks.
      const commands = range(1, EVENTS).flatMap((seq) => hosts.map((host) => ({ host, seq })));
      const total = commands.length;
      // One process per round; they boot (tsx) ahead, and each opens the directory only when started.
      const workers = [...kills, null].map(() => new WorkerProcess(dataDir, rid, HOSTS));
      const allEffects = new Set<string>();
      /** What the previous owner left: host → lastEventSeq, and the outbox not marked done. */
      let durable = new Map(hosts.map((h) => [h, 0]));
      let pending: string[] = [];
      const report: string[] = [];
      const draw = ([lo, hi]: [number, number]) => lo + Math.random() * (hi - lo);

      for (const [round, kill] of kills.entries()) {
        const worker = workers[round] as WorkerProcess;
        const durableTotal = [...durable.values()].reduce((a, b) => a + b, 0);
        const killAfterAcks = 'acks' in kill ? Math.floor(total * draw(kill.acks)) - durableTotal : undefined;
        const killAfterCommits = 'commits' in kill ? Math.round(draw(kill.commits)) : undefined;
        if (killAfterAcks !== undefined) {
          expect(killAfterAcks, 'kill points leave each round something to acknowledge').toBeGreaterThan(0);
        }

        await worker.start(killAfterCommits);
        // A restart rehydrates exactly what the killed owner left, and re-runs its outbox.
        expect(worker.ready?.seqs, `round ${round}: rehydrated seqs`).toEqual(Object.fromEntries(durable));
        expect([...worker.effectsAtReady].sort(), `round ${round}: the outbox left is re-run`).toEqual(
          pending,
        );
        if (killAfterAcks !== undefined) worker.killAtOks(killAfterAcks);
        worker.sendAll(commands);
        await until(() => worker.closed !== undefined, 30_000, `the kill of round ${round}`);
        expect(worker.closed?.signal, `round ${round}: killed (stderr: ${worker.stderr})`).toBe('SIGKILL');
        expect(worker.done).toBe(false);
        // Every line the worker printed before dying has been read (`close`): these are the acks the
        // agent got. Events at or below what the last owner left are duplicates; the rest are new.
        for (const r of worker.results) {
          const before = durable.get(r.host) ?? 0;
          expect(`${r.host}#${r.seq} ${r.result}`).toBe(
            `${r.host}#${r.seq} ${r.seq <= before ? 'SeqRegression' : 'ok'}`,
          );
        }
        const oks = worker.results.filter((r) => r.result === 'ok');
        // Lines written before the kill but read together with the one that triggered it count too.
        if (killAfterAcks !== undefined)
          expect(oks.length, `round ${round}: acks`).toBeGreaterThanOrEqual(killAfterAcks);
        else expect(oks.length, `round ${round}: acks before the killing commit`).toBeGreaterThan(0);
        expect(
          worker.results.length,
          `round ${round}: the kill came before the stream was through`,
        ).toBeLessThan(total);

        // No acknowledged event lost, none doubled, nothing half-written; what is durable is exactly a
        // prefix of each host's seqs, with its log rows and its state, each once.
        const state = await inspectCrashed(dataDir, rid);
        let committedUnacked = 0;
        for (const host of hosts) {
          const lastAcked = Math.max(
            durable.get(host) ?? 0,
            ...oks.filter((r) => r.host === host).map((r) => r.seq),
          );
          const d = state.seqs.get(host) ?? -1;
          expect(d, `round ${round}: ${host} acked up to ${lastAcked}`).toBeGreaterThanOrEqual(lastAcked);
          committedUnacked += d - lastAcked;
        }
        if (killAfterCommits !== undefined) {
          expect(committedUnacked, 'the killing commit is durable, its sends unacknowledged').toBeGreaterThan(
            0,
          );
        }
        expectPrefixes(state, rid, hosts, `after kill ${round + 1}`);
        // Effects run only after their step committed.
        const durableEffects = new Set(
          hosts.flatMap((h) => [...expectedHost(rid, h, state.seqs.get(h) ?? 0).effects]),
        );
        expect(worker.effects.filter((e) => !durableEffects.has(e))).toEqual([]);
        for (const e of worker.effects) allEffects.add(e);
        durable = new Map(hosts.map((h) => [h, state.seqs.get(h) ?? 0]));
        pending = state.pending;
        report.push(
          `kill ${round + 1} after ${oks.length} new acks (${worker.results.length - oks.length} duplicates), ` +
            `${committedUnacked} committed unacknowledged, ${pending.length} effects pending`,
        );
      }

      // The last restart takes every event again, on the directory the last kill left.
      const last = workers[kills.length] as WorkerProcess;
      await last.start();
      expect(last.ready?.seqs, 'rehydrated seqs').toEqual(Object.fromEntries(durable));
      expect([...last.effectsAtReady].sort(), 'the outbox left is re-run').toEqual(pending);
      last.sendAll(commands);
      last.endInput();
      await last.waitFor(() => last.done, 30_000, 'the last worker to take every event');
      await until(() => last.closed !== undefined, 10_000, 'the last worker to exit');
      expect(last.closed?.code).toBe(0);
      expect(last.results).toHaveLength(total);
      for (const r of last.results) {
        const d = durable.get(r.host) ?? 0;
        expect(`${r.host}#${r.seq} ${r.result}`).toBe(
          `${r.host}#${r.seq} ${r.seq <= d ? 'SeqRegression' : 'ok'}`,
        );
      }
      for (const e of last.effects) allEffects.add(e);

      // Final state: every seq applied exactly once, every step's effects run (at least once), none
      // for a step that never committed, and none left in the outbox.
      const final = await inspect(dataDir, rid);
      for (const host of hosts) expect(final.seqs.get(host), `${host} lastEventSeq`).toBe(EVENTS);
      expectPrefixes(final, rid, hosts, 'at the end');
      expect(final.pending).toEqual([]);
      expect(allEffects).toEqual(new Set(hosts.flatMap((h) => [...expectedHost(rid, h, EVENTS).effects])));
      console.log(`PGlite kill -9 ${point}: ${report.join('; ')}`);
    },
  );
});
