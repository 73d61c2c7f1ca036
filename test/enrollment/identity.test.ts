// The identity layer without TLS (cp/identity): CN → machine id, the 401 a plain-HTTP request gets,
// and the notBefore revocation rule against both database drivers.
import { Hono } from 'hono';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  agentCn,
  cnNamesMachine,
  createDbRevocationLookup,
  createIdentityMiddleware,
  type IdentityEnv,
  isRevoked,
  machineIdFromCn,
  type RevocationLookup,
  verifiedPeerCertificate,
} from '../../cp/identity/index.ts';
import { certRevocations } from '../../db/index.ts';
import { DRIVERS, type DriverDatabase } from '../support/drivers.ts';

describe('CN → machine id (spec §5.1)', () => {
  it('strips agent- (and the configured suffix only together with it) and keeps legacy bare CNs', () => {
    expect(machineIdFromCn('agent-web-01')).toBe('web-01');
    expect(machineIdFromCn('web-01')).toBe('web-01');
    expect(machineIdFromCn('agent-')).toBe('agent-');
    expect(machineIdFromCn('agent-web-01.fleet.example', 'fleet.example')).toBe('web-01');
    expect(machineIdFromCn('agent-web-01.other.example', 'fleet.example')).toBe('agent-web-01.other.example');
    expect(machineIdFromCn('web-01.fleet.example', 'fleet.example')).toBe('web-01.fleet.example');
  });

  it('round-trips agentCn, and CSR CNs match by construction, not by reduction', () => {
    for (const id of ['web-01', 'agent-x', 'db.eu-1']) {
      expect(machineIdFromCn(agentCn(id))).toBe(id);
      expect(machineIdFromCn(agentCn(id, 'fleet.example'), 'fleet.example')).toBe(id);
    }
    expect(cnNamesMachine('web-01', 'web-01')).toBe(true);
    expect(cnNamesMachine('agent-web-01', 'web-01')).toBe(true);
    expect(cnNamesMachine('agent-x', 'x')).toBe(true);
    // A host literally named agent-x may ask for "agent-x", and that never names host "x"'s sibling.
    expect(cnNamesMachine('agent-x', 'agent-x')).toBe(true);
    expect(cnNamesMachine('web-02', 'web-01')).toBe(false);
    expect(cnNamesMachine('agent-web-02', 'web-01')).toBe(false);
  });
});

describe('identity middleware without TLS', () => {
  const never: RevocationLookup = {
    revokedBefore: () => Promise.reject(new Error('must not be asked without a certificate')),
  };

  it('answers 401 JSON to a request that has no TLS socket at all', async () => {
    const app = new Hono<IdentityEnv>();
    app.get('/v1/whoami', createIdentityMiddleware({ revocations: never }), (c) => c.json(c.get('identity')));
    const res = await app.request('/v1/whoami');
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ error: 'unauthenticated' });
    expect(verifiedPeerCertificate(undefined)).toMatchObject({ ok: false });
  });

  it('refuses an unauthorized TLS socket, and one whose certificate has no single CN', () => {
    const socket = (authorized: boolean, subject: Record<string, unknown>) =>
      ({
        incoming: {
          socket: {
            authorized,
            authorizationError: authorized ? undefined : 'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
            getPeerCertificate: () => ({ subject, raw: Buffer.alloc(0) }),
          },
        },
      }) as never;
    expect(verifiedPeerCertificate(socket(false, { CN: 'agent-web-01' }))).toMatchObject({
      ok: false,
      detail: expect.stringContaining('UNABLE_TO_VERIFY_LEAF_SIGNATURE'),
    });
    expect(verifiedPeerCertificate(socket(true, { CN: ['a', 'b'] }))).toMatchObject({ ok: false });
    expect(verifiedPeerCertificate(socket(true, {}))).toMatchObject({ ok: false });
  });

  it('treats only certificates issued strictly before the revocation instant as revoked', () => {
    const t = new Date('2026-01-01T00:00:00Z');
    expect(isRevoked(new Date(t.getTime() - 1000), t)).toBe(true);
    expect(isRevoked(t, t)).toBe(false);
    expect(isRevoked(new Date(t.getTime() + 1000), t)).toBe(false);
    expect(isRevoked(t, undefined)).toBe(false);
  });
});

describe.each(DRIVERS)('revocation lookup on %s', (_kind, open) => {
  let database: DriverDatabase;
  beforeAll(async () => {
    database = await open();
  });
  afterAll(async () => {
    await database?.drop();
  });

  it('reads cert_revocations.not_before for the host, and nothing for others', async () => {
    const notBefore = new Date('2026-02-03T04:05:06.789Z');
    await database.handle.db
      .insert(certRevocations)
      .values({ hostname: 'web-07', notBefore, reason: 'lost disk' });
    const lookup = createDbRevocationLookup(database.handle.db);
    expect((await lookup.revokedBefore('web-07'))?.toISOString()).toBe(notBefore.toISOString());
    expect(await lookup.revokedBefore('web-08')).toBeUndefined();
  });
});
