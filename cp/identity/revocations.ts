// Revocation by notBefore (spec §1.14): a host's certificates issued before its revocation instant
// are refused; re-enrolling yields a later notBefore, which is accepted again.
import { eq } from 'drizzle-orm';
import { certRevocations, type Database } from '../../db/index.ts';

export interface RevocationLookup {
  /** The instant before which `machineId`'s certificates are revoked, or undefined when none is. */
  revokedBefore(machineId: string): Promise<Date | undefined>;
}

/** Reads `cert_revocations` on every request: a revocation applies to the very next request. */
export function createDbRevocationLookup(db: Database): RevocationLookup {
  return {
    async revokedBefore(machineId) {
      const [row] = await db
        .select({ notBefore: certRevocations.notBefore })
        .from(certRevocations)
        .where(eq(certRevocations.hostname, machineId))
        .limit(1);
      return row?.notBefore;
    },
  };
}

/** Strictly earlier is revoked: a certificate issued at the revocation instant itself is kept (spec §5.1). */
export function isRevoked(certNotBefore: Date, revokedBefore: Date | undefined): boolean {
  return revokedBefore !== undefined && certNotBefore.getTime() < revokedBefore.getTime();
}
