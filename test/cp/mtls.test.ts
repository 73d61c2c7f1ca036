// The daemon over real HTTPS with client certificates on loopback (spec §5.1-5.2): identity is the
// certificate's CN, a host may only act for itself, a request without a certificate gets 401 on
// mTLS routes while /healthz and anonymous /v1/enroll stay reachable, and the planner started by
// the daemon dispatches to the host that presents the matching certificate.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hostRolloutKey } from '../../actors/index.ts';
import { createMtlsKeyAndCsr, httpsJson } from '../../agent/enrollment/index.ts';
import {
  createCa,
  type EnrollmentCa,
  issueClientCert,
  issueServerCert,
  parseCsr,
} from '../../cp/enrollment/index.ts';
import { type ControlPlane, resolveCpConfig, startControlPlane } from '../../cp/index.ts';
import { createTestDatabase, type TestDatabase } from '../support/postgres.ts';
import { CLOSURE_A } from '../trust/support.ts';
import {
  createReleaseWorld,
  envelope,
  type ReleaseWorld,
  STABLE,
  silentLogger,
  until,
  wire,
} from './support.ts';

let db: TestDatabase;
let world: ReleaseWorld;
let cp: ControlPlane;
let ca: EnrollmentCa;
const client = new Map<string, { cert: string; key: string }>();

function clientCert(hostname: string) {
  const { keyPem, csrPem } = createMtlsKeyAndCsr(hostname);
  const csr = parseCsr(csrPem);
  if (!csr.ok) throw new Error(csr.error.message);
  const issued = issueClientCert(csr.csr, {
    ca,
    cn: `agent-${hostname}`,
    validityMs: 3_600_000,
    now: new Date(),
  });
  return { cert: issued.certPem, key: keyPem };
}

beforeAll(async () => {
  db = await createTestDatabase();
  world = await createReleaseWorld();
  await world.writeRelease();
  const now = new Date();
  ca = createCa({ commonName: 'test fleet CA', validityMs: 86_400_000, now, modulusLength: 2048 });
  const server = issueServerCert({ ca, names: ['localhost', '127.0.0.1'], validityMs: 86_400_000, now });
  const tls = join(world.dir, 'tls');
  await mkdir(tls);
  const files = {
    tlsCert: join(tls, 'cp.crt'),
    tlsKey: join(tls, 'cp.key'),
    clientCa: join(tls, 'ca.crt'),
    caCert: join(tls, 'ca.crt'),
    caKey: join(tls, 'ca.key'),
  };
  await writeFile(files.tlsCert, server.certPem);
  await writeFile(files.tlsKey, server.keyPem);
  await writeFile(files.clientCa, ca.certPem);
  await writeFile(files.caKey, ca.keyPem);
  for (const h of ['web-01', 'web-02']) client.set(h, clientCert(h));

  const config = await resolveCpConfig({
    flags: {
      listen: '127.0.0.1:0',
      databaseUrl: db.url,
      releaseDir: world.releaseDir,
      trustFile: world.trustFile,
      ...files,
    },
    env: {},
  });
  if (!config.ok) throw new Error(JSON.stringify(config.problems));
  cp = await startControlPlane(config.config, { logger: silentLogger });
});

afterAll(async () => {
  await cp?.stop();
  await db?.drop();
  await world?.cleanup();
});

const as = (host: string | null, path: string, body?: unknown) =>
  httpsJson(`${cp.url}${path}`, {
    ...(body === undefined ? {} : { method: 'POST' as const, body }),
    tls: { ca: ca.certPem, ...(host === null ? {} : client.get(host)) },
    timeoutMs: 20_000,
  }).then((r) => {
    if (!r.ok) throw new Error(r.error.message);
    return r.response;
  });

describe('nixfleet cp over mTLS', () => {
  it('serves HTTPS; identity is the certificate CN', async () => {
    expect(cp.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(await as('web-01', '/v1/whoami')).toMatchObject({ status: 200, body: { cn: 'agent-web-01' } });
  });

  it('answers 401 on mTLS routes without a certificate, but not on /healthz or /v1/enroll', async () => {
    expect((await as(null, '/v1/whoami')).status).toBe(401);
    expect((await as(null, '/v1/agent/dispatch?wait=0')).status).toBe(401);
    expect((await as(null, '/healthz')).status).toBe(200);
    const enroll = await as(null, '/v1/enroll', { token: 'x', csrPem: 'y' });
    expect(enroll.status).toBe(400);
  });

  it('dispatches to the host of the certificate and applies its events; another host is 403', async () => {
    await until(
      () => cp.core.runtime.has(hostRolloutKey(STABLE, 'web-01')),
      10_000,
      'the planner to open the rollout',
    );
    const dispatch = await as('web-01', '/v1/agent/dispatch?wait=10');
    expect(dispatch).toMatchObject({ status: 200, body: { hostname: 'web-01', target_closure: CLOSURE_A } });
    // web-02 is in wave 1: nothing for it yet.
    expect((await as('web-02', '/v1/agent/dispatch?wait=0')).status).toBe(204);

    expect((await as('web-01', '/v1/agent/events', envelope('web-01', wire.ack(1)))).status).toBe(204);
    const forged = await as('web-02', '/v1/agent/events', envelope('web-01', wire.ack(2)));
    expect(forged).toMatchObject({ status: 403, body: { error: 'identity_mismatch' } });
    const beat = await as('web-02', '/v1/agent/heartbeat', {
      hostname: 'web-01',
      at: new Date().toISOString(),
      current_closure: null,
    });
    expect(beat.status).toBe(403);
  });
});
