// `nixfleet cp` as a real process on loopback HTTP against a real PostgreSQL database: it starts,
// rehydrates the actors it finds, becomes ready on a verified release, applies agent events, wakes a
// held long-poll when another connection enqueues, serves /metrics, and stops cleanly on SIGTERM.
// Usage errors exit 2 naming the flag.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { enqueueDispatch } from '../../cp/index.ts';
import { createTestDatabase, type TestDatabase } from '../support/postgres.ts';
import {
  createReleaseWorld,
  envelope,
  openRollout,
  type ReleaseWorld,
  STABLE,
  startCore,
  until,
  wire,
} from './support.ts';

const CLI = ['--import', 'tsx', 'cli/main.ts', 'cp'];
const env = { ...process.env, DATABASE_URL: '', NIXFLEET_LOG_LEVEL: 'info' };

describe('nixfleet cp (process)', { timeout: 120_000 }, () => {
  let db: TestDatabase;
  let world: ReleaseWorld;
  let child: ChildProcess | undefined;
  let stderr = '';
  let exit: Promise<number | null>;
  let url = '';

  beforeAll(async () => {
    db = await createTestDatabase();
    world = await createReleaseWorld();
    await world.writeRelease();
    // Records a planner would have opened, written before the daemon starts: it must rehydrate them.
    const seed = await startCore(db.handle, world, { listen: false });
    await openRollout(seed, ['web-01']);
    await seed.stop();

    child = spawn(
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
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      stderr += chunk;
    });
    const proc = child;
    exit = new Promise((resolve) => proc.once('exit', (code) => resolve(code)));
    await until(
      () => {
        for (const line of stderr.split('\n')) {
          if (!line.startsWith('{')) continue;
          const record = JSON.parse(line) as { msg?: string; url?: string };
          if (record.msg === 'listening' && record.url !== undefined) url = record.url;
        }
        return url !== '' || proc.exitCode !== null;
      },
      60_000,
      'the daemon to listen',
    );
    expect(url, stderr).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  });

  afterAll(async () => {
    if (child !== undefined && child.exitCode === null) child.kill('SIGKILL');
    await db?.drop();
    await world?.cleanup();
  });

  const post = (path: string, body: unknown) =>
    fetch(`${url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'X-Nixfleet-Protocol': '1' },
      body: JSON.stringify(body),
    });

  it('logs JSON lines on stderr and is healthy and ready', async () => {
    const first = stderr.split('\n')[0] ?? '';
    expect(JSON.parse(first)).toMatchObject({ msg: 'starting control plane', component: 'cp' });
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    const ready = await fetch(`${url}/readyz`);
    expect(ready.status).toBe(200);
    expect(ready.headers.get('x-nixfleet-protocol')).toBe('1');
  });

  it('applies events to the rehydrated records: 204, duplicate 204, unknown 404', async () => {
    expect((await post('/v1/agent/events', envelope('web-01', wire.ack(1)))).status).toBe(204);
    expect((await post('/v1/agent/events', envelope('web-01', wire.ack(1)))).status).toBe(204);
    expect((await post('/v1/agent/events', envelope('web-01', wire.rolledBack(2)))).status).toBe(409);
    expect((await post('/v1/agent/events', envelope('nobody', wire.ack(1)))).status).toBe(404);
    expect((await post('/v1/agent/events', { nonsense: true })).status).toBe(400);
  });

  it('wakes a held long-poll when another connection enqueues', async () => {
    const started = Date.now();
    const pending = fetch(`${url}/v1/agent/dispatch?wait=30&hostname=web-01`);
    // The daemon's own gauge says when the poll is held; only then is the row queued.
    await until(
      async () =>
        (await (await fetch(`${url}/metrics`)).text()).includes('nixfleet_dispatch_longpolls_waiting 1'),
      20_000,
      'the long-poll to be held',
    );
    await enqueueDispatch(db.handle.db, {
      hostname: 'web-01',
      rolloutId: STABLE,
      targetClosure: 'target-web-01',
      soakDueAt: new Date('2026-05-16T02:00:00Z'),
      enqueuedAt: new Date(),
    });
    const res = await pending;
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ hostname: 'web-01', rollout_id: STABLE });
    expect(Date.now() - started).toBeLessThan(20_000);
  });

  it('serves /metrics', async () => {
    const text = await (await fetch(`${url}/metrics`)).text();
    expect(text).toContain('nixfleet_cp_build_info');
    expect(text).toContain(
      'nixfleet_host_rollout_state{host="web-01",channel="stable",state="Activating"} 1',
    );
  });

  it('stops cleanly on SIGTERM', async () => {
    child?.kill('SIGTERM');
    expect(await exit).toBe(0);
    expect(stderr).toContain('"msg":"stopped"');
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
