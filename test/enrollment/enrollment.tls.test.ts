// Enrollment and renewal end to end (issue 4, spec §5.8-5.9): a real HTTPS server on loopback with
// client-certificate verification, real certificates, the agent's own client, and real PostgreSQL
// for the nonce table and audit trail.
import { X509Certificate } from 'node:crypto';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createMtlsKeyAndCsr,
  enroll,
  httpsJson,
  loadSshHostKey,
  renew,
  type TlsIdentity,
} from '../../agent/enrollment/index.ts';
import { createCa, issueClientCert, parseCsr } from '../../cp/enrollment/index.ts';
import { certAudit, certRevocations, type Database, tokenReplay } from '../../db/index.ts';
import { signPossessionProof } from '../../proto/possessionProof.ts';
import { createTestDatabase, type TestDatabase } from '../support/postgres.ts';
import {
  createPki,
  ed25519,
  FIXTURE_FINGERPRINT,
  FIXTURES,
  type Host,
  host,
  mint,
  type Pki,
  startCp,
  type TestCp,
} from './support/world.ts';

let database: TestDatabase;
let db: Database;
let pki: Pki;
let cp: TestCp;
let web01: Host;
let web02: Host;
let ci: Host;

beforeAll(async () => {
  database = await createTestDatabase();
  db = database.handle.db;
  pki = createPki();
  // web-01 uses a key written by ssh-keygen, read through the agent's own loader.
  const loaded = await loadSshHostKey(new URL('ssh_host_ed25519_key', FIXTURES).pathname);
  if (!loaded.ok) throw new Error(loaded.error.message);
  web01 = host('web-01', loaded.key.privateKey);
  web02 = host('web-02');
  ci = host('ci-runner');
  cp = await startCp({ db, pki, hosts: [web01, web02, ci] });
});
afterAll(async () => {
  await cp?.close();
  await database?.drop();
});

const agentOptions = (h: Host) => ({
  controlPlaneUrl: cp.url,
  caPem: pki.ca.certPem,
  sshHostKey: h.sshKey,
  now: new Date(),
});

async function enrolled(h: Host): Promise<TlsIdentity> {
  const { token } = await mint({ host: h.name, fingerprint: h.fingerprint, orgKey: pki.orgKey });
  const result = await enroll({ ...agentOptions(h), token });
  if (!result.ok) throw new Error(`enrollment of ${h.name} failed: ${JSON.stringify(result.error)}`);
  return result.identity;
}

/** A request the agent would never build: any token, any CSR CN, a proof by any key over any nonce. */
async function rawEnroll(options: {
  token: string;
  csrHost: string;
  proofKey: import('node:crypto').KeyObject;
  nonce: string;
  proofNow?: Date;
}) {
  const { csrPem } = createMtlsKeyAndCsr(options.csrHost);
  const proof = await signPossessionProof({
    sshKey: options.proofKey,
    csrPem,
    nonce: options.nonce,
    now: options.proofNow ?? new Date(),
  });
  return post('/v1/enroll', { token: options.token, csrPem, proof });
}

async function post(path: string, body: unknown, client?: { certPem: string; keyPem: string }) {
  const result = await httpsJson(`${cp.url}${path}`, {
    body,
    tls: { ca: pki.ca.certPem, cert: client?.certPem, key: client?.keyPem },
  });
  if (!result.ok) throw new Error(result.error.message);
  return result.response;
}

async function get(path: string, client?: { certPem: string; keyPem: string }) {
  const result = await httpsJson(`${cp.url}${path}`, {
    method: 'GET',
    tls: { ca: pki.ca.certPem, cert: client?.certPem, key: client?.keyPem },
  });
  if (!result.ok) throw new Error(result.error.message);
  return result.response;
}

async function nonceRow(nonce: string) {
  const [row] = await db.select().from(tokenReplay).where(eq(tokenReplay.nonce, nonce));
  return row;
}

describe('POST /v1/enroll', () => {
  it('issues an agent-<host> client certificate that then authenticates over mTLS, and audits it', async () => {
    const { token, nonce, exp } = await mint({
      host: 'web-01',
      fingerprint: FIXTURE_FINGERPRINT,
      orgKey: pki.orgKey,
    });
    const result = await enroll({ ...agentOptions(web01), token });
    expect(result.ok, JSON.stringify(result)).toBe(true);
    if (!result.ok) return;

    const cert = new X509Certificate(result.identity.certPem);
    expect(cert.subject).toBe('CN=agent-web-01');
    expect(cert.subjectAltName).toBe('DNS:agent-web-01');
    expect(cert.keyUsage).toEqual(['1.3.6.1.5.5.7.3.2']);
    expect(cert.verify(new X509Certificate(pki.ca.certPem).publicKey)).toBe(true);
    const lifetime = new Date(cert.validTo).getTime() - new Date(cert.validFrom).getTime();
    expect(lifetime).toBe(3_600_000);

    const whoami = await get('/v1/whoami', result.identity);
    expect(whoami).toEqual({ status: 200, body: { cn: 'agent-web-01', machineId: 'web-01' } });

    // Kept until the token could no longer be replayed (spec P10), not for a fixed 24 h.
    expect((await nonceRow(nonce))?.expiresAt?.getTime()).toBe(exp * 1000);
    const audit = await db
      .select()
      .from(certAudit)
      .where(eq(certAudit.context, `enroll/nonce:${nonce}`));
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({
      requesterCn: '<enroll>',
      issuedCn: 'agent-web-01',
      serial: cert.serialNumber.toLowerCase(),
    });
  });

  it('answers 409 to a replayed token, without issuing a second certificate', async () => {
    const { token, nonce } = await mint({
      host: 'web-02',
      fingerprint: web02.fingerprint,
      orgKey: pki.orgKey,
    });
    const first = await enroll({ ...agentOptions(web02), token });
    expect(first.ok).toBe(true);
    const second = await enroll({ ...agentOptions(web02), token });
    expect(second).toMatchObject({
      ok: false,
      error: { code: 'Refused', status: 409, error: 'nonce_replayed' },
    });
    const audit = await db
      .select()
      .from(certAudit)
      .where(eq(certAudit.context, `enroll/nonce:${nonce}`));
    expect(audit).toHaveLength(1);
  });

  it('lets exactly one of several concurrent enrollments with the same token through (enroll-replay)', async () => {
    const { token, nonce } = await mint({
      host: 'web-02',
      fingerprint: web02.fingerprint,
      orgKey: pki.orgKey,
    });
    const results = await Promise.all(
      Array.from({ length: 6 }, () => enroll({ ...agentOptions(web02), token })),
    );
    const statuses = results.map((r) =>
      r.ok ? 200 : r.error.code === 'Refused' ? r.error.status : r.error.code,
    );
    expect(statuses.filter((s) => s === 200)).toHaveLength(1);
    expect(statuses.filter((s) => s === 409)).toHaveLength(5);
    const audit = await db
      .select()
      .from(certAudit)
      .where(eq(certAudit.context, `enroll/nonce:${nonce}`));
    expect(audit).toHaveLength(1);
  });

  it('refuses an expired token with 401 and does not consume its nonce', async () => {
    const { token, nonce } = await mint({
      host: 'web-01',
      fingerprint: web01.fingerprint,
      orgKey: pki.orgKey,
      now: new Date(Date.now() - 2 * 3_600_000),
      ttlMs: 3_600_000,
    });
    const result = await enroll({ ...agentOptions(web01), token });
    expect(result).toMatchObject({ ok: false, error: { status: 401, error: 'token_expired' } });
    expect(await nonceRow(nonce)).toBeUndefined();
  });

  it('refuses a token minted for another host (401): the proof is checked against that host’s key', async () => {
    // web-01 holds web-02's token: it can sign only with its own key.
    const { token, nonce } = await mint({
      host: 'web-02',
      fingerprint: web02.fingerprint,
      orgKey: pki.orgKey,
    });
    const result = await enroll({ ...agentOptions(web01), token });
    expect(result).toMatchObject({ ok: false, error: { status: 401, error: 'invalid_proof' } });
    expect(await nonceRow(nonce)).toBeUndefined();
  });

  it('refuses a proof made with a key other than the host’s declared SSH key (401)', async () => {
    const { token, nonce } = await mint({
      host: 'web-01',
      fingerprint: web01.fingerprint,
      orgKey: pki.orgKey,
    });
    const response = await rawEnroll({ token, csrHost: 'web-01', proofKey: ed25519(), nonce });
    expect(response.status).toBe(401);
    expect(response.body).toMatchObject({ error: 'invalid_proof' });
    expect(await nonceRow(nonce)).toBeUndefined();
  });

  it('refuses a host that the verified fleet does not declare (401)', async () => {
    const ghost = host('ghost-01');
    const { token } = await mint({ host: ghost.name, fingerprint: ghost.fingerprint, orgKey: pki.orgKey });
    const result = await enroll({ ...agentOptions(ghost), token });
    expect(result).toMatchObject({ ok: false, error: { status: 401, error: 'host_not_declared' } });
  });

  it('refuses a token signed by a key that is not the org root key (401)', async () => {
    const { token } = await mint({ host: 'web-01', fingerprint: web01.fingerprint, orgKey: ed25519() });
    const result = await enroll({ ...agentOptions(web01), token });
    expect(result).toMatchObject({ ok: false, error: { status: 401, error: 'invalid_token' } });
  });

  it('accepts a token signed by the previous org root key during rotation', async () => {
    const { token } = await mint({
      host: 'ci-runner',
      fingerprint: ci.fingerprint,
      orgKey: pki.previousOrgKey,
    });
    const result = await enroll({ ...agentOptions(ci), token });
    expect(result.ok, JSON.stringify(result)).toBe(true);
  });

  it('refuses a token whose SSH fingerprint is not the declared key’s (401)', async () => {
    const { token, nonce } = await mint({
      host: 'web-01',
      fingerprint: host('x').fingerprint,
      orgKey: pki.orgKey,
    });
    const result = await enroll({ ...agentOptions(web01), token });
    expect(result).toMatchObject({ ok: false, error: { status: 401, error: 'fingerprint_mismatch' } });
    expect(await nonceRow(nonce)).toBeUndefined();
  });

  it('refuses a stale proof (401), and one made for another nonce', async () => {
    const { token, nonce } = await mint({
      host: 'web-01',
      fingerprint: web01.fingerprint,
      orgKey: pki.orgKey,
    });
    const stale = await rawEnroll({
      token,
      csrHost: 'web-01',
      proofKey: web01.sshKey,
      nonce,
      proofNow: new Date(Date.now() - 6 * 60_000),
    });
    expect(stale.status).toBe(401);
    expect(stale.body).toMatchObject({ error: 'invalid_proof' });
    expect(JSON.stringify(stale.body)).toMatch(/clock/);
    const otherNonce = await rawEnroll({
      token,
      csrHost: 'web-01',
      proofKey: web01.sshKey,
      nonce: 'ab'.repeat(16),
    });
    expect(otherNonce.status).toBe(401);
    expect(await nonceRow(nonce)).toBeUndefined();
  });

  it('refuses a CSR naming another host (403) without consuming the token', async () => {
    const { token, nonce } = await mint({
      host: 'web-01',
      fingerprint: web01.fingerprint,
      orgKey: pki.orgKey,
    });
    const response = await rawEnroll({ token, csrHost: 'web-02', proofKey: web01.sshKey, nonce });
    expect(response.status).toBe(403);
    expect(response.body).toMatchObject({ error: 'identity_mismatch' });
    expect(await nonceRow(nonce)).toBeUndefined();
  });

  it('answers 400 with a JSON error to malformed bodies and CSRs', async () => {
    const { token, nonce } = await mint({
      host: 'web-01',
      fingerprint: web01.fingerprint,
      orgKey: pki.orgKey,
    });
    const notJson = await httpsJson(`${cp.url}/v1/enroll`, {
      body: undefined,
      method: 'POST',
      tls: { ca: pki.ca.certPem },
    });
    expect(notJson.ok && notJson.response.status).toBe(400);
    const extra = await post('/v1/enroll', { token, csrPem: 'x', proof: 'a.b.c', admin: true });
    expect(extra).toMatchObject({ status: 400, body: { error: 'malformed_request' } });
    const garbage = '-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n';
    const proof = await signPossessionProof({
      sshKey: web01.sshKey,
      csrPem: garbage,
      nonce,
      now: new Date(),
    });
    const badCsr = await post('/v1/enroll', { token, csrPem: garbage, proof });
    expect(badCsr).toMatchObject({ status: 400, body: { error: 'malformed_csr' } });
    const huge = await post('/v1/enroll', { token, csrPem: 'x'.repeat(100_000), proof });
    expect(huge).toMatchObject({ status: 413, body: { error: 'malformed_request' } });
    expect(await nonceRow(nonce)).toBeUndefined();
  });

  it('answers 503 before the fleet or the CA is loaded, and the same token works afterwards (P14)', async () => {
    const { token, nonce } = await mint({
      host: 'web-01',
      fingerprint: web01.fingerprint,
      orgKey: pki.orgKey,
    });
    cp.state.hosts = false;
    const noFleet = await rawEnroll({ token, csrHost: 'web-01', proofKey: web01.sshKey, nonce });
    cp.state.hosts = true;
    const ca = cp.state.ca;
    cp.state.ca = undefined;
    const noCa = await rawEnroll({ token, csrHost: 'web-01', proofKey: web01.sshKey, nonce });
    cp.state.ca = ca;
    for (const response of [noFleet, noCa]) {
      expect(response).toMatchObject({ status: 503, body: { error: 'not_ready' } });
    }
    expect(await nonceRow(nonce)).toBeUndefined();
    const after = await rawEnroll({ token, csrHost: 'web-01', proofKey: web01.sshKey, nonce });
    expect(after.status).toBe(200);
  });
});

describe('POST /v1/agent/renew', () => {
  let identity: TlsIdentity;
  beforeAll(async () => {
    identity = await enrolled(web01);
  });

  it('issues a new certificate for the caller, which then works for mTLS; audited with the previous serial', async () => {
    const result = await renew({ ...agentOptions(web01), hostname: 'web-01', current: identity });
    expect(result.ok, JSON.stringify(result)).toBe(true);
    if (!result.ok) return;
    const previous = new X509Certificate(identity.certPem);
    const next = new X509Certificate(result.identity.certPem);
    expect(next.subject).toBe('CN=agent-web-01');
    expect(next.serialNumber).not.toBe(previous.serialNumber);
    expect(result.identity.keyPem).not.toBe(identity.keyPem);
    expect(await get('/v1/whoami', result.identity)).toMatchObject({
      status: 200,
      body: { machineId: 'web-01' },
    });
    const [audit] = await db
      .select()
      .from(certAudit)
      .where(eq(certAudit.serial, next.serialNumber.toLowerCase()));
    expect(audit).toMatchObject({
      requesterCn: 'agent-web-01',
      issuedCn: 'agent-web-01',
      context: `renew/prev:${previous.serialNumber.toLowerCase()}`,
    });
  });

  it('refuses a CSR naming another host with 403: renewal is bound to the verified identity (P12)', async () => {
    const { csrPem } = createMtlsKeyAndCsr('web-02');
    const nonce = 'cd'.repeat(16);
    const proof = await signPossessionProof({ sshKey: web01.sshKey, csrPem, nonce, now: new Date() });
    const response = await post('/v1/agent/renew', { csrPem, nonce, proof }, identity);
    expect(response).toMatchObject({ status: 403, body: { error: 'identity_mismatch' } });
    expect(await nonceRow(nonce)).toBeUndefined();
  });

  it('refuses a proof made with another host’s key (401)', async () => {
    const result = await renew({
      ...agentOptions(web01),
      sshHostKey: web02.sshKey,
      hostname: 'web-01',
      current: identity,
    });
    expect(result).toMatchObject({ ok: false, error: { status: 401, error: 'invalid_proof' } });
  });

  it('answers 409 to the same renewal request sent twice', async () => {
    const { csrPem } = createMtlsKeyAndCsr('web-01');
    const nonce = 'ef'.repeat(16);
    const proof = await signPossessionProof({ sshKey: web01.sshKey, csrPem, nonce, now: new Date() });
    expect((await post('/v1/agent/renew', { csrPem, nonce, proof }, identity)).status).toBe(200);
    expect(await post('/v1/agent/renew', { csrPem, nonce, proof }, identity)).toMatchObject({
      status: 409,
      body: { error: 'nonce_replayed' },
    });
  });

  it('answers 401 without a client certificate, or with one from another CA', async () => {
    const { csrPem: bareCsr } = createMtlsKeyAndCsr('web-01');
    const bareNonce = '12'.repeat(16);
    const bareProof = await signPossessionProof({
      sshKey: web01.sshKey,
      csrPem: bareCsr,
      nonce: bareNonce,
      now: new Date(),
    });
    const bare = await post('/v1/agent/renew', { csrPem: bareCsr, nonce: bareNonce, proof: bareProof });
    expect(bare).toMatchObject({ status: 401, body: { error: 'unauthenticated' } });

    const rogueCa = createCa({
      commonName: 'rogue',
      validityMs: 86_400_000,
      now: new Date(),
      modulusLength: 2048,
    });
    const { keyPem, csrPem } = createMtlsKeyAndCsr('web-01');
    const parsed = parseCsr(csrPem);
    if (!parsed.ok) throw new Error(parsed.error.message);
    const rogue = issueClientCert(parsed.csr, {
      ca: rogueCa,
      cn: 'agent-web-01',
      validityMs: 3_600_000,
      now: new Date(),
    });
    const forged = await renew({
      ...agentOptions(web01),
      hostname: 'web-01',
      current: { certPem: rogue.certPem, keyPem },
    });
    expect(forged).toMatchObject({ ok: false, error: { status: 401, error: 'unauthenticated' } });
  });
});

describe('identity middleware over mTLS', () => {
  let web01Identity: TlsIdentity;
  beforeAll(async () => {
    web01Identity = await enrolled(web01);
  });

  it('answers 401 to a request without a client certificate', async () => {
    expect(await get('/v1/whoami')).toMatchObject({ status: 401, body: { error: 'unauthenticated' } });
  });

  it('answers 403 when the body or the path names another host, and passes the caller’s own name', async () => {
    expect(await post('/v1/agent/heartbeat', { hostname: 'web-02' }, web01Identity)).toMatchObject({
      status: 403,
      body: { error: 'identity_mismatch' },
    });
    expect(await get('/v1/hosts/web-02/trace', web01Identity)).toMatchObject({
      status: 403,
      body: { error: 'identity_mismatch' },
    });
    expect(await post('/v1/agent/heartbeat', { hostname: 'web-01' }, web01Identity)).toEqual({
      status: 200,
      body: { ok: true },
    });
    expect(await get('/v1/hosts/web-01/trace', web01Identity)).toEqual({
      status: 200,
      body: { host: 'web-01' },
    });
  });

  it('refuses certificates issued before the host’s revocation (401) and accepts one issued after it', async () => {
    // Issue "10 s ago" so that a revocation between then and now needs no waiting.
    cp.clock.offsetMs = -10_000;
    const old = await enrolled(web02);
    cp.clock.offsetMs = 0;
    expect((await get('/v1/whoami', old)).status).toBe(200);

    await db.insert(certRevocations).values({
      hostname: 'web-02',
      notBefore: new Date(Date.now() - 5_000),
      reason: 'test: key compromise',
    });
    expect(await get('/v1/whoami', old)).toMatchObject({ status: 401, body: { error: 'revoked' } });
    const renewal = await renew({ ...agentOptions(web02), hostname: 'web-02', current: old });
    expect(renewal).toMatchObject({ ok: false, error: { status: 401, error: 'revoked' } });

    const fresh = await enrolled(web02);
    expect(await get('/v1/whoami', fresh)).toMatchObject({ status: 200, body: { machineId: 'web-02' } });
  });

  it('reported no internal errors', () => {
    expect(cp.errors).toEqual([]);
  });
});
