// What enrollment needs from the rest of the CP, as small interfaces: the verified fleet (who may
// enroll, with which SSH key) and the trust roots (which keys sign bootstrap tokens). The CP wires
// them to its verified release and trust.json; tests pass literals.
import { createPublicKey, type KeyObject } from 'node:crypto';

/** One host of the verified fleet, as far as enrollment cares. */
export interface DeclaredHost {
  /** The host's SSH host key, OpenSSH form: `ssh-ed25519 AAAA… [comment]` (fleet.json `pubkey`). */
  readonly sshPubkey: string;
}

/** The hosts of the currently verified fleet. */
export interface DeclaredHosts {
  lookup(hostname: string): DeclaredHost | undefined;
}

/** The org root key slot of trust.json (spec §1.13), re-read by the provider as it sees fit. */
export interface OrgRootKeys {
  /** Active ed25519 public keys at `now`: current, previous, successor-before-retireAt. */
  activeKeys(now: Date): readonly KeyObject[];
  /** The slot's `rejectBefore`, when set: tokens issued before it are refused. */
  rejectBefore?(now: Date): Date | undefined;
}

/** An ed25519 public key from the raw-32-byte base64 form `release keygen` writes and trust.json holds. */
export function ed25519PublicKeyFromBase64(raw: string): KeyObject {
  const bytes = Buffer.from(raw, 'base64');
  if (bytes.length !== 32) throw new RangeError('an ed25519 public key is 32 bytes');
  return createPublicKey({
    key: { kty: 'OKP', crv: 'Ed25519', x: bytes.toString('base64url') },
    format: 'jwk',
  });
}

/** A fixed key set (tests, and a CP started with a single org key). */
export function staticOrgRootKeys(keys: readonly KeyObject[], rejectBefore?: Date): OrgRootKeys {
  return { activeKeys: () => keys, rejectBefore: () => rejectBefore };
}

/** Hosts from a plain map of hostname → OpenSSH public key (tests, demo). */
export function staticDeclaredHosts(hosts: Readonly<Record<string, string>>): DeclaredHosts {
  const byName = new Map(Object.entries(hosts));
  return {
    lookup(hostname) {
      const sshPubkey = byName.get(hostname);
      return sshPubkey === undefined ? undefined : { sshPubkey };
    },
  };
}
