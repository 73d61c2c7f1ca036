// The nonce table and audit trail (cp/enrollment/issuanceStore.ts) on both drivers: a nonce is
// consumed exactly once under concurrency, and only together with an issued, audited certificate.
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDbIssuanceStore, type IssueOnceRequest } from '../../cp/enrollment/index.ts';
import { certAudit, tokenReplay } from '../../db/index.ts';
import { DRIVERS, type DriverDatabase } from '../support/drivers.ts';

const NOW = new Date('2026-06-01T10:00:00.000Z');
let counter = 0;

function request(nonce: string, serial = `serial-${++counter}`): IssueOnceRequest {
  return {
    nonce,
    hostname: 'web-01',
    nonceExpiresAt: new Date(NOW.getTime() + 3_600_000),
    now: NOW,
    requesterCn: '<enroll>',
    context: `enroll/nonce:${nonce}`,
    issue: () => ({
      cn: 'agent-web-01',
      certPem: `cert ${serial}`,
      serial,
      notBefore: NOW,
      notAfter: new Date(NOW.getTime() + 60_000),
    }),
  };
}

const nonce = () => (++counter).toString(16).padStart(32, '0');

describe.each(DRIVERS)('issuance store on %s', (_kind, open) => {
  let database: DriverDatabase;
  beforeAll(async () => {
    database = await open();
  });
  afterAll(async () => {
    await database?.drop();
  });

  const audits = (n: string) =>
    database.handle.db
      .select()
      .from(certAudit)
      .where(eq(certAudit.context, `enroll/nonce:${n}`));
  const replayRows = (n: string) =>
    database.handle.db.select().from(tokenReplay).where(eq(tokenReplay.nonce, n));

  it('issues once per nonce, records the nonce until its expiry and audits the issuance', async () => {
    const store = createDbIssuanceStore(database.handle.db);
    const n = nonce();
    const first = await store.issueOnce(request(n));
    expect(first.ok).toBe(true);
    expect(await store.issueOnce(request(n))).toEqual({ ok: false, error: { code: 'NonceReplayed' } });
    const [row] = await replayRows(n);
    expect(row).toMatchObject({ hostname: 'web-01', expiresAt: new Date(NOW.getTime() + 3_600_000) });
    expect(await audits(n)).toMatchObject([
      { requesterCn: '<enroll>', issuedCn: 'agent-web-01', issuedAt: NOW },
    ]);
  });

  it('lets exactly one of many concurrent issuances with the same nonce through', async () => {
    const store = createDbIssuanceStore(database.handle.db);
    const n = nonce();
    let issued = 0;
    const results = await Promise.all(
      Array.from({ length: 8 }, () => {
        const r = request(n);
        const issue = r.issue;
        return store.issueOnce({
          ...r,
          issue: () => {
            issued++;
            return issue();
          },
        });
      }),
    );
    expect(results.filter((r) => r.ok)).toHaveLength(1);
    expect(issued).toBe(1);
    expect(await audits(n)).toHaveLength(1);
  });

  it('does not consume the nonce when issuing fails (P14: a failing CP never burns a token)', async () => {
    const store = createDbIssuanceStore(database.handle.db);
    const n = nonce();
    await expect(
      store.issueOnce({
        ...request(n),
        issue: () => {
          throw new Error('CA key unreadable');
        },
      }),
    ).rejects.toThrow('CA key unreadable');
    expect(await replayRows(n)).toEqual([]);
    expect((await store.issueOnce(request(n))).ok).toBe(true);
  });
});
