// Trust roots, `trust.json` (spec §1.13, contract §3). Re-read on every verification by the CP and
// the agent so that rotations apply without restarts; this module only parses and selects keys.
import { z } from 'zod';
import { absentAsNull, timestampSchema } from '../common.ts';

/**
 * `{algorithm, public}`: ed25519 = base64 of the raw 32-byte key, ecdsa-p256 = base64 of X‖Y (64
 * bytes). The algorithm stays a free string and `public` is not decoded here: a key the verifier
 * cannot use is skipped (spec §1.11), it does not make the whole file unreadable. A bare string is
 * shorthand for an ed25519 key, the form `nixfleet release keygen` prints.
 */
export const pubKeySchema = z.union([
  z.object({ algorithm: z.string().min(1), public: z.string() }),
  z.string().transform((b64) => ({ algorithm: 'ed25519', public: b64.trim() })),
]);
export type PubKey = z.infer<typeof pubKeySchema>;

export const keySlotSchema = z.object({
  current: absentAsNull(pubKeySchema),
  previous: absentAsNull(pubKeySchema),
  /** Compromise response: artifacts signed before this instant are refused whatever their key. */
  rejectBefore: absentAsNull(timestampSchema),
  /** Pre-published next key, trusted only while `now < retireAt`. */
  successor: absentAsNull(pubKeySchema),
  retireAt: absentAsNull(timestampSchema),
});
export type KeySlot = z.infer<typeof keySlotSchema>;

export const trustFileSchema = z.object({
  // Required, and only version 1 exists (spec §1.13 recommends rejecting others everywhere).
  schemaVersion: z.literal(1),
  ciReleaseKey: keySlotSchema,
  cacheKeys: z
    .array(z.string())
    .nullish()
    .transform((v) => v ?? []),
  orgRootKey: absentAsNull(keySlotSchema),
  rootCaPem: absentAsNull(z.string()),
  issuanceCaPems: z
    .array(z.string())
    .nullish()
    .transform((v) => v ?? []),
});
export type TrustFile = z.infer<typeof trustFileSchema>;

/**
 * Keys of a slot to try at `now`, in order current, previous, successor (spec §1.13). Beyond the
 * original, `previous` stops being trusted once `now ≥ rejectBefore`: otherwise whoever holds a
 * compromised previous key could sign with any `signedAt` after the cut-off and pass step 7.
 */
export function activeKeysAt(slot: KeySlot, now: Date): PubKey[] {
  const t = now.getTime();
  const keys: PubKey[] = [];
  if (slot.current !== null) keys.push(slot.current);
  const previousRetired = slot.rejectBefore !== null && t >= Date.parse(slot.rejectBefore);
  if (slot.previous !== null && !previousRetired) keys.push(slot.previous);
  if (slot.successor !== null && slot.retireAt !== null && t < Date.parse(slot.retireAt))
    keys.push(slot.successor);
  return keys;
}
