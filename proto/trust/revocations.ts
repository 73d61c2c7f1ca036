// The two optional CI-signed artifacts beside the fleet (spec §1.14): cert revocations and the
// bootstrap-nonce allowlist. Verified with the same steps and keys as the fleet (spec §1.11).
import { z } from 'zod';
import { absentAsNull, timestampSchema } from '../common.ts';
import { metaSchema } from '../fleet/fleetResolved.ts';

export const revocationsSchema = z.object({
  schemaVersion: z.number().int(),
  revocations: z.array(
    z.object({
      hostname: z.string().min(1),
      /** Client certs of this host issued before this instant are refused (401). */
      notBefore: timestampSchema,
      reason: absentAsNull(z.string()),
      revokedBy: absentAsNull(z.string()),
    }),
  ),
  meta: metaSchema,
});
export type Revocations = z.infer<typeof revocationsSchema>;

export const bootstrapNoncesSchema = z.object({
  schemaVersion: z.number().int(),
  bootstrapNonces: z.array(
    z.object({
      nonce: z.string().min(1),
      hostname: z.string().min(1),
      /** The entry is live while `now ≤ expiresAt`. */
      expiresAt: timestampSchema,
      mintedAt: absentAsNull(timestampSchema),
      mintedBy: absentAsNull(z.string()),
    }),
  ),
  meta: metaSchema,
});
export type BootstrapNonces = z.infer<typeof bootstrapNoncesSchema>;
