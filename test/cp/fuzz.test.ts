// Fuzzed requests on every CP route (issue 5 "must show"): whatever the body, query, path or
// protocol header, the answer is a success or a 4xx/503 with a JSON `{error, detail}` body — never
// a 500, never a crash.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createDbIssuanceStore,
  createEnrollmentService,
  staticDeclaredHosts,
  staticOrgRootKeys,
} from '../../cp/enrollment/index.ts';
import { type ControlPlaneCore, createControlPlaneCore } from '../../cp/index.ts';
import { AGENT_EVENT_KINDS } from '../../proto/index.ts';
import { createTestDatabase, type TestDatabase } from '../support/postgres.ts';
import {
  createReleaseWorld,
  envelope,
  openRollout,
  type ReleaseWorld,
  STABLE,
  silentLogger,
  wire,
} from './support.ts';

let db: TestDatabase;
let world: ReleaseWorld;
let core: ControlPlaneCore;

beforeAll(async () => {
  db = await createTestDatabase();
  world = await createReleaseWorld();
  await world.writeRelease();
  core = await createControlPlaneCore({
    handle: db.handle,
    logger: silentLogger,
    releaseDir: world.releaseDir,
    trustFile: world.trustFile,
    releasePollIntervalMs: 0,
    planIntervalMs: 0,
    // No waiting: a fuzzed `wait` must not hold the run.
    longpollMaxWaitMs: 0,
    auth: { mode: 'insecure' },
    migrated: true,
    enrollment: () =>
      createEnrollmentService({
        store: createDbIssuanceStore(db.handle.db),
        declaredHosts: () => staticDeclaredHosts({}),
        orgRootKeys: staticOrgRootKeys([]),
        ca: () => undefined,
        agentCertValidityMs: 86_400_000,
        clock: () => new Date(),
      }),
  });
  await openRollout(core, ['web-01', 'web-02']);
});

afterAll(async () => {
  await core?.stop();
  await db?.drop();
  await world?.cleanup();
});

async function expectWellFormed(res: Response, context: unknown): Promise<void> {
  expect(res.status, JSON.stringify(context)).not.toBe(500);
  expect(res.status, JSON.stringify(context)).toBeLessThan(600);
  if (res.status >= 400) {
    expect(res.headers.get('content-type'), JSON.stringify(context)).toContain('application/json');
    const body = (await res.json()) as { error?: unknown; detail?: unknown };
    expect(typeof body.error, JSON.stringify(context)).toBe('string');
    expect(typeof body.detail, JSON.stringify(context)).toBe('string');
  }
}

/** Envelopes close to valid: real kinds and hosts with fields perturbed. */
const nearEnvelope = fc.record({
  hostname: fc.oneof(fc.constantFrom('web-01', 'web-02', 'web-99', ''), fc.string()),
  rolloutId: fc.oneof(fc.constant(STABLE), fc.constant('stable@ffff'), fc.string()),
  event: fc.oneof(
    fc.constantFrom(
      wire.ack(1),
      wire.ack(2),
      wire.completed(3, 'web-01'),
      wire.rolledBack(4),
      wire.converged(5, 'x'),
    ),
    fc.record(
      {
        kind: fc.constantFrom(...AGENT_EVENT_KINDS, 'Nope'),
        seq: fc.oneof(fc.integer(), fc.double(), fc.string(), fc.constant(null)),
        receivedAt: fc.oneof(
          fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
          fc.string(),
        ),
        currentClosureAtDispatch: fc.oneof(fc.string(), fc.constant(null)),
      },
      { requiredKeys: ['kind'] },
    ),
    fc.jsonValue(),
  ),
  signature: fc.option(fc.oneof(fc.stringMatching(/^[0-9a-f]{0,16}$/), fc.string()), { nil: undefined }),
});

const anyBody = fc.oneof(
  fc.jsonValue().map((v) => JSON.stringify(v)),
  fc.string(),
  nearEnvelope.map((v) => JSON.stringify(v)),
  fc.constant(''),
  fc.constant('{"hostname":'),
);

const RUNS = { numRuns: 150 };

describe('fuzzed requests never produce a 500', () => {
  it('POST /v1/agent/events', async () => {
    await fc.assert(
      fc.asyncProperty(anyBody, fc.option(fc.string(), { nil: undefined }), async (body, protocol) => {
        const headers: Record<string, string> = { 'content-type': 'application/json' };
        if (protocol !== undefined && /^[\x20-\x7e]*$/.test(protocol))
          headers['X-Nixfleet-Protocol'] = protocol;
        const res = await core.app.request('/v1/agent/events', { method: 'POST', headers, body });
        await expectWellFormed(res, { body, protocol });
        expect([204, 400, 403, 404, 409, 413, 426]).toContain(res.status);
      }),
      RUNS,
    );
    // After all that, a well-formed event is still applied (or is a duplicate of a fuzzed one).
    const ok = await core.app.request('/v1/agent/events', {
      method: 'POST',
      body: JSON.stringify(envelope('web-02', wire.ack(1))),
    });
    expect(ok.status).toBe(204);
  });

  it('POST /v1/agent/heartbeat', async () => {
    const nearHeartbeat = fc.record(
      {
        hostname: fc.oneof(fc.constantFrom('web-01', 'web-02', 'web-99'), fc.string()),
        rollout_id: fc.oneof(fc.constant(null), fc.constant(STABLE), fc.string()),
        current_closure: fc.oneof(fc.constant(null), fc.constantFrom('target-web-01', 'prior'), fc.string()),
        at: fc.oneof(
          fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
          fc.string(),
        ),
        last_event_seq_by_rollout: fc.option(fc.dictionary(fc.string(), fc.integer()), { nil: undefined }),
        uptime_secs: fc.option(fc.oneof(fc.integer(), fc.double()), { nil: undefined }),
      },
      { requiredKeys: [] },
    );
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          anyBody,
          nearHeartbeat.map((v) => JSON.stringify(v)),
        ),
        async (body) => {
          const res = await core.app.request('/v1/agent/heartbeat', { method: 'POST', body });
          await expectWellFormed(res, { body });
          expect([200, 400, 413]).toContain(res.status);
        },
      ),
      RUNS,
    );
  });

  it('GET /v1/agent/dispatch', async () => {
    await fc.assert(
      fc.asyncProperty(fc.string(), fc.string(), fc.boolean(), async (wait, hostname, withWait) => {
        const q = new URLSearchParams({ hostname });
        if (withWait) q.set('wait', wait);
        const res = await core.app.request(`/v1/agent/dispatch?${q.toString()}`);
        await expectWellFormed(res, { wait, hostname });
        expect([200, 204, 400]).toContain(res.status);
      }),
      RUNS,
    );
  });

  it('GET /v1/rollouts/{id}, /sig and /v1/channels/{name}', async () => {
    await fc.assert(
      fc.asyncProperty(fc.string({ minLength: 1 }), fc.constantFrom('', '/sig'), async (id, suffix) => {
        const rollout = await core.app.request(`/v1/rollouts/${encodeURIComponent(id)}${suffix}`);
        await expectWellFormed(rollout, { id, suffix });
        expect([200, 404]).toContain(rollout.status);
        const channel = await core.app.request(`/v1/channels/${encodeURIComponent(id)}`);
        await expectWellFormed(channel, { id });
      }),
      RUNS,
    );
  });

  it('POST /v1/enroll and /v1/agent/renew', async () => {
    await fc.assert(
      fc.asyncProperty(anyBody, fc.constantFrom('/v1/enroll', '/v1/agent/renew'), async (body, path) => {
        const res = await core.app.request(path, { method: 'POST', body });
        await expectWellFormed(res, { body, path });
        expect(res.status).toBeGreaterThanOrEqual(400);
      }),
      RUNS,
    );
  });

  it('any method and path, with any protocol header', async () => {
    const paths = fc.oneof(
      fc.constantFrom(
        '/healthz',
        '/readyz',
        '/metrics',
        '/v1/whoami',
        '/v1/fleet.resolved',
        '/v1/fleet.resolved/sig',
        '/v1/agent/events',
        '/v1/agent/dispatch',
        '/v1/nope',
      ),
      fc.webPath(),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH'),
        paths,
        fc.option(fc.stringMatching(/^[\x20-\x7e]{0,12}$/), { nil: undefined }),
        async (method, path, protocol) => {
          const headers: Record<string, string> =
            protocol === undefined ? {} : { 'X-Nixfleet-Protocol': protocol };
          const res = await core.app.request(path.startsWith('/') ? path : `/${path}`, {
            method,
            headers,
            ...(method === 'GET' ? {} : { body: '{}' }),
          });
          await expectWellFormed(res, { method, path, protocol });
        },
      ),
      RUNS,
    );
  });
});
