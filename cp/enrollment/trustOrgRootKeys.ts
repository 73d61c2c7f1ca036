// The org root key slot of trust.json (spec §1.13) as enrollment's `OrgRootKeys`. Bootstrap tokens
// are ed25519 only: other algorithms in the slot are skipped, not fatal (spec §1.13).
import { activeKeysAt, type TrustFile } from '../../proto/trust/index.ts';
import { ed25519PublicKeyFromBase64, type OrgRootKeys } from './ports.ts';

/**
 * `trust` is called on every enrollment (spec §1.13: the CP re-reads trust.json per enrollment, so
 * rotations apply without a restart); undefined or a file without `orgRootKey` yields no keys,
 * which the enrollment service answers with 503.
 */
export function orgRootKeysFromTrust(trust: () => TrustFile | undefined): OrgRootKeys {
  return {
    activeKeys(now) {
      const slot = trust()?.orgRootKey;
      if (slot === null || slot === undefined) return [];
      return activeKeysAt(slot, now).flatMap((key) => {
        if (key.algorithm !== 'ed25519') return [];
        try {
          return [ed25519PublicKeyFromBase64(key.public)];
        } catch {
          // A malformed entry is skipped like an unsupported one; the remaining keys still count.
          return [];
        }
      });
    },
    rejectBefore() {
      const at = trust()?.orgRootKey?.rejectBefore;
      return at === null || at === undefined ? undefined : new Date(at);
    },
  };
}
