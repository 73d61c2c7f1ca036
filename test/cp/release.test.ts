// The release source behind readiness and the artifact routes (spec §7.10, §5.2-5.3, contract §4,
// §10.2 P13/P15): 503 until a verified release appears, then 200; a tampered or mismatched release
// is refused with its reason on /readyz and /metrics while the last good set keeps being served.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ControlPlaneCore } from '../../cp/index.ts';
import { createTestDatabase, type TestDatabase } from '../support/postgres.ts';
import { ed25519Key } from '../trust/support.ts';
import { createReleaseWorld, openRollout, type ReleaseWorld, STABLE, startCore, until } from './support.ts';

let db: TestDatabase;
let world: ReleaseWorld;
let core: ControlPlaneCore;

beforeAll(async () => {
  db = await createTestDatabase();
  world = await createReleaseWorld();
  core = await startCore(db.handle, world);
});

afterAll(async () => {
  await core?.stop();
  await db?.drop();
  await world?.cleanup();
});

const get = (path: string) => core.app.request(path);
const file = (name: string) => readFile(join(world.releaseDir, name));

describe('readiness and the verified release', () => {
  it('is not ready (503, Retry-After: 30) while no verified release exists; /healthz is', async () => {
    const ready = await get('/readyz');
    expect(ready.status).toBe(503);
    expect(ready.headers.get('Retry-After')).toBe('30');
    const body = (await ready.json()) as { ready: boolean; reason: string };
    expect(body.ready).toBe(false);
    expect(body.reason).toContain('awaiting first signed artifact');
    expect(body.reason).toContain('fleet.resolved.json');

    const gated = await get('/v1/fleet.resolved');
    expect(gated.status).toBe(503);
    expect(gated.headers.get('Retry-After')).toBe('30');
    expect(await gated.json()).toMatchObject({ error: 'not_ready' });
    expect((await get('/metrics')).status).toBe(503);

    const health = await get('/healthz');
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ ok: true, last_tick_at: null });
  });

  it('becomes ready when a valid release appears, and serves exactly its verified bytes', async () => {
    const hash = await world.writeRelease();
    expect((await core.releases.poll()).kind).toBe('published');
    const ready = await get('/readyz');
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({
      ready: true,
      release: { fleetResolvedHash: hash, rollouts: [STABLE] },
      lastRefusal: null,
    });

    const fleet = await get('/v1/fleet.resolved');
    expect(fleet.status).toBe(200);
    expect(fleet.headers.get('content-type')).toContain('application/json');
    expect(Buffer.from(await fleet.arrayBuffer())).toEqual(await file('fleet.resolved.json'));
    const sig = await get('/v1/fleet.resolved/sig');
    expect(sig.headers.get('content-type')).toBe('application/octet-stream');
    expect(Buffer.from(await sig.arrayBuffer())).toEqual(await file('fleet.resolved.json.sig'));

    const manifest = await get(`/v1/rollouts/${STABLE}`);
    expect(Buffer.from(await manifest.arrayBuffer())).toEqual(await file(`rollouts/${STABLE}.json`));
    const manifestSig = await get(`/v1/rollouts/${STABLE}/sig`);
    expect(Buffer.from(await manifestSig.arrayBuffer())).toEqual(await file(`rollouts/${STABLE}.json.sig`));
    expect((await get('/v1/rollouts/stable@ffff')).status).toBe(404);
    expect((await get('/v1/rollouts/..%2Fetc')).status).toBe(404);

    expect(await (await get('/v1/channels/stable')).json()).toMatchObject({
      name: 'stable',
      declared_ci_commit: 'abc123',
      freshness_window_minutes: 60,
    });
    expect((await get('/v1/channels/nope')).status).toBe(404);
  });

  it('keeps the last good set when a tampered release appears, and says why (P15)', async () => {
    const good = await file('fleet.resolved.json');
    // Re-signed by a key the trust file does not hold: a forged release.
    await world.writeRelease({ key: ed25519Key(), signedAt: new Date(Date.now() + 1000).toISOString() });
    const outcome = await core.releases.poll();
    expect(outcome).toMatchObject({ kind: 'refused', refusal: { code: 'untrusted-signature' } });

    const ready = await get('/readyz');
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({
      ready: true,
      lastRefusal: { code: 'untrusted-signature', file: 'fleet.resolved.json' },
    });
    // Only verified bytes are served: still the old fleet, not what is on disk now.
    const served = Buffer.from(await (await get('/v1/fleet.resolved')).arrayBuffer());
    expect(served).toEqual(good);
    expect(served).not.toEqual(await file('fleet.resolved.json'));

    const metrics = await (await get('/metrics')).text();
    expect(metrics).toContain('nixfleet_release_refusals_total{code="untrusted-signature"} 1');
    expect(metrics).toContain('nixfleet_release_refused 1');
  });

  it('refuses a manifest bound to another fleet than the one verified with it (P13)', async () => {
    await world.writeRelease({ signedAt: new Date(Date.now() - 5000).toISOString() });
    const stale = await file(`rollouts/${STABLE}.json`);
    const staleSig = await file(`rollouts/${STABLE}.json.sig`);
    const hash = await world.writeRelease();
    await writeFile(join(world.releaseDir, 'rollouts', `${STABLE}.json`), stale);
    await writeFile(join(world.releaseDir, 'rollouts', `${STABLE}.json.sig`), staleSig);
    const outcome = await core.releases.poll();
    expect(outcome).toMatchObject({
      kind: 'refused',
      refusal: { code: 'fleet-hash-mismatch', file: `rollouts/${STABLE}.json` },
    });
    expect(core.releases.current()?.fleet.verified.sha256).not.toBe(hash);

    // Fixed: the next poll publishes and clears the refusal.
    await world.writeRelease();
    expect((await core.releases.poll()).kind).toBe('published');
    expect(await (await get('/readyz')).json()).toMatchObject({ ready: true, lastRefusal: null });
  });

  it('refuses a release whose trust file is unreadable, without dropping the good set', async () => {
    const trust = await readFile(world.trustFile);
    await writeFile(world.trustFile, '{"schemaVersion": 2}');
    expect(await core.releases.poll()).toMatchObject({ kind: 'refused', refusal: { code: 'trust-file' } });
    expect((await get('/readyz')).status).toBe(200);
    await writeFile(world.trustFile, trust);
    expect((await core.releases.poll()).kind).not.toBe('refused');
  });

  it('exposes the spec §5.10 metric names and the HTTP histogram', async () => {
    await openRollout(core, ['web-01']);
    const text = await (await get('/metrics')).text();
    for (const name of [
      'nixfleet_cp_build_info{version="0.1.0"',
      'nixfleet_fleet_signed_age_seconds',
      'nixfleet_channel_active_rollouts_total{channel="stable"} 1',
      'nixfleet_channel_active_rollouts_total{channel="edge"} 0',
      'nixfleet_channel_freshness_window_minutes{channel="stable"} 60',
      'nixfleet_host_rollout_state{host="web-01",channel="stable",state="Pending"} 1',
      'nixfleet_host_converged{host="web-01",channel="stable"} 0',
      'nixfleet_host_verified_event_count{host="web-01",channel="stable"} 0',
      'nixfleet_gate_block_total',
      'nixfleet_http_request_duration_seconds_bucket',
      'route="/readyz"',
    ]) {
      expect(text).toContain(name);
    }
  });

  it('stops being ready while draining', async () => {
    core.drain();
    const res = await get('/readyz');
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({ ready: false, reason: expect.stringContaining('draining') });
  });

  it('is picked up by the poller on its own (--release-poll-interval)', async () => {
    const own = await createReleaseWorld();
    const polled = await startCore(db.handle, own, { releasePollIntervalMs: 50, listen: false });
    try {
      expect((await polled.app.request('/readyz')).status).toBe(503);
      await own.writeRelease();
      await until(
        async () => (await polled.app.request('/readyz')).status === 200,
        10_000,
        'the poller to load it',
      );
    } finally {
      await polled.stop();
      await own.cleanup();
    }
  });
});
