// The nonce table and the audit trail, written together: a nonce is consumed if and only if a
// certificate was issued for it and audited (one transaction). Two enrollments racing with the same
// token both reach the INSERT; the primary key lets exactly one of them through (spec §5.8 step 12,
// harness test `enroll-replay`), and the loser waits for the winner's commit, then sees the row.
import { certAudit, type Database, tokenReplay } from '../../db/index.ts';
import type { IssuedCert } from './ca.ts';

export interface IssueOnceRequest {
  nonce: string;
  hostname: string;
  /** How long the nonce could be replayed: the token's `exp`, or the proof's freshness limit. */
  nonceExpiresAt: Date;
  now: Date;
  /** `<enroll>` or the renewing mTLS CN (spec §1.16). */
  requesterCn: string;
  /** `enroll/nonce:<nonce>` or `renew/prev:<serial>`. */
  context: string;
  /** Signs the certificate; runs only once the nonce is ours, inside the transaction. */
  issue: () => IssuedCert & { cn: string };
}

export type IssueOnceResult =
  | { ok: true; cert: IssuedCert }
  | { ok: false; error: { code: 'NonceReplayed' } };

export interface IssuanceStore {
  issueOnce(request: IssueOnceRequest): Promise<IssueOnceResult>;
}

export function createDbIssuanceStore(db: Database): IssuanceStore {
  return {
    issueOnce(request) {
      return db.transaction(async (tx): Promise<IssueOnceResult> => {
        const inserted = await tx
          .insert(tokenReplay)
          .values({
            nonce: request.nonce,
            hostname: request.hostname,
            firstSeen: request.now,
            expiresAt: request.nonceExpiresAt,
          })
          .onConflictDoNothing({ target: tokenReplay.nonce })
          .returning({ nonce: tokenReplay.nonce });
        if (inserted.length === 0) return { ok: false, error: { code: 'NonceReplayed' } };
        // A throw from here on rolls the nonce back: a CP that fails to issue does not burn the token (P14).
        const cert = request.issue();
        await tx.insert(certAudit).values({
          issuedAt: request.now,
          requesterCn: request.requesterCn,
          issuedCn: cert.cn,
          serial: cert.serial,
          notAfter: cert.notAfter,
          context: request.context,
        });
        return { ok: true, cert };
      });
    },
  };
}
