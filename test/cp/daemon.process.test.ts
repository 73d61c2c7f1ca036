// `nixfleet cp` as a real process on loopback HTTP against a real PostgreSQL database: it starts,
// becomes ready on a verified release, plans it and dispatches wave 0, applies agent events, wakes a
// held long-poll when another connection enqueues, serves /metrics, stops cleanly on SIGTERM and
// rehydrates its records on the next start.
// Usage errors exit 2 naming the flag.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { enqueueDispatch } from '../../cp/index.ts';
import { createTestDatabase, type TestDatabase } from '../support/postgres.ts';
import { CLOSURE_A } from '../trust/support.ts';
import { createReleaseWorld, envelope, type ReleaseWorld, STABLE, until, wire } from './support.ts';

const CLI = ['--import', 'tsx', 'cli/main.ts', 'cp'];
const env = { ...process.env, DATABASE_URL: '', NIXFLEET_LOG_LEVEL: 'info' };

/** Events stamped with the real clock: the daemon's activation deadline (G7) runs on it. */
const T = Date.now();
const now = (s: number) => new Date(T + s * 1000).toISOString();
const live = {
  ack: { ...wire.ack(1), receivedAt: now(1) },
  rolledBack: { ...wire.rolledBack(2), completedAt: now(2) },
  completed: { ...wire.completed(2, 'x'), completedAt: now(2) },
} as const;

interface Daemon {
  readonly url: string;
  readonly stderr: () => string;
  readonly exit: Promise<number | null>;
  readonly child: ChildProcess;
}

/** Starts `nixfleet cp` on loopback HTTP and waits for its `listening` log line. */
async function startDaemon(db: TestDatabase, world: ReleaseWorld): Promise<Daemon> {
  const child = spawn(
    process.execPath,
    [
      ...CLI,
      '--insecure-http',
      '--listen',
      '127.0.0.1:0',
      '--database-url',
      db.url,
      '--release-dir',
      world.releaseDir,
      '--trust-file',
      world.trustFile,
      '--plan-interval',
      '1s',
    ],
    { env, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    stderr += chunk;
  });
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let url = '';
  await until(
    () => {
      for (const line of stderr.split('\n')) {
        if (!line.startsWith('{')) continue;
        const record = JSON.parse(line) as { msg?: string; url?: string };
        if (record.msg === 'listening' && record.url !== undefined) url = record.url;
      }
      return url !== '' || child.exitCode !== null;
    },
    60_000,
    'the daemon to listen',
  );
  expect(url, stderr).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  return { url, stderr: () => stderr, exit, child };
}

describe('nixfleet cp (process)', { timeout: 120_000 }, () => {
  let db: TestDatabase;
  let world: ReleaseWorld;
  let daemon: Daemon;

  beforeAll(async () => {
    db = await createTestDatabase();
    world = await createReleaseWorld();
    await world.writeRelease();
    daemon = await startDaemon(db, world);
  });

  afterAll(async () => {
    if (daemon?.child.exitCode === null) daemon.child.kill('SIGKILL');
    await db?.drop();
    await world?.cleanup();
  });

  const post = (path: string, body: unknown) =>
    fetch(`${daemon.url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'X-Nixfleet-Protocol': '1' },
      body: JSON.stringify(body),
    });
  const metrics = async () => (await fetch(`${daemon.url}/metrics`)).text();

  it('logs JSON lines on stderr and is healthy and ready', async () => {
    const first = daemon.stderr().split('\n')[0] ?? '';
    expect(JSON.parse(first)).toMatchObject({ msg: 'starting control plane', component: 'cp' });
    expect((await fetch(`${daemon.url}/healthz`)).status).toBe(200);
    const ready = await fetch(`${daemon.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(ready.headers.get('x-nixfleet-protocol')).toBe('1');
  });

  it('plans the release on its own: wave 0 is dispatched over the long-poll', async () => {
    const res = await fetch(`${daemon.url}/v1/agent/dispatch?wait=20&hostname=web-01`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({
      hostname: 'web-01',
      rollout_id: STABLE,
      target_closure: CLOSURE_A,
    });
  });

  it('applies events through the host actors: 204, duplicate 204, 409, unknown 404, malformed 400', async () => {
    expect((await post('/v1/agent/events', envelope('web-01', live.ack))).status).toBe(204);
    expect((await post('/v1/agent/events', envelope('web-01', live.ack))).status).toBe(204);
    expect((await post('/v1/agent/events', envelope('web-01', live.rolledBack))).status).toBe(409);
    expect((await post('/v1/agent/events', envelope('nobody', wire.ack(1)))).status).toBe(404);
    expect((await post('/v1/agent/events', { nonsense: true })).status).toBe(400);
    expect(await metrics()).toContain(
      'nixfleet_host_rollout_state{host="web-01",channel="stable",state="Activating"} 1',
    );
  });

  it('wakes a held long-poll when another connection enqueues', async () => {
    const started = Date.now();
    // web-02 is in wave 1, held back by wave promotion: its poll waits.
    const pending = fetch(`${daemon.url}/v1/agent/dispatch?wait=30&hostname=web-02`);
    await until(
      async () => (await metrics()).includes('nixfleet_dispatch_longpolls_waiting 1'),
      20_000,
      'the long-poll to be held',
    );
    await enqueueDispatch(db.handle.db, {
      hostname: 'web-02',
      rolloutId: 'elsewhere@1',
      targetClosure: 'target-web-02',
      soakDueAt: new Date('2026-05-16T02:00:00Z'),
      enqueuedAt: new Date(),
    });
    const res = await pending;
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ hostname: 'web-02', rollout_id: 'elsewhere@1' });
    expect(Date.now() - started).toBeLessThan(20_000);
  });

  it('stops cleanly on SIGTERM, and a restart rehydrates what it had applied', async () => {
    daemon.child.kill('SIGTERM');
    expect(await daemon.exit).toBe(0);
    expect(daemon.stderr()).toContain('"msg":"stopped"');

    daemon = await startDaemon(db, world);
    // The record came back from the database: the same event is a duplicate, the next one applies.
    expect((await post('/v1/agent/events', envelope('web-01', live.ack))).status).toBe(204);
    expect((await post('/v1/agent/events', envelope('web-01', live.completed))).status).toBe(204);
    expect(await metrics()).toContain(
      'nixfleet_host_rollout_state{host="web-01",channel="stable",state="Soaking"} 1',
    );
    daemon.child.kill('SIGTERM');
    expect(await daemon.exit).toBe(0);
  });
});

describe('nixfleet cp usage errors', { timeout: 60_000 }, () => {
  const run = (...args: string[]) =>
    spawnSync(process.execPath, [...CLI, ...args], { encoding: 'utf8', env });

  it('refuses --insecure-http on a non-loopback address with exit 2 naming the flag', () => {
    const r = run('--insecure-http', '--listen', '0.0.0.0:8080', '--release-dir', '/tmp/x');
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('nixfleet cp: --insecure-http:');
    expect(r.stderr).not.toMatch(/^\s+at /m);
  });

  it('names a bad duration and its environment variable', () => {
    const r = spawnSync(
      process.execPath,
      [...CLI, '--insecure-http', '--listen', '127.0.0.1:0', '--release-dir', '/x'],
      {
        encoding: 'utf8',
        env: { ...env, NIXFLEET_PLAN_INTERVAL: '15' },
      },
    );
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('--plan-interval');
    expect(r.stderr).toContain('NIXFLEET_PLAN_INTERVAL');
  });

  it('names a missing TLS file with exit 2', () => {
    const r = run(
      '--listen',
      '127.0.0.1:0',
      '--release-dir',
      '/x',
      '--tls-cert',
      '/nope.crt',
      '--tls-key',
      '/nope.key',
    );
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/--tls-(key|cert): \/nope/);
  });
});
