// trust.json (spec §1.13, §9.7 "trust.json parse") and the side artifacts verified with its keys
// (spec §1.14, §9.7 `verify_revocations.rs`).
import { describe, expect, it } from 'vitest';
import {
  activeKeysAt,
  trustFileSchema,
  type VerifyRefusalCode,
  verifyBootstrapNonces,
  verifyRevocations,
} from '../../proto/index.ts';
import { at, ed25519Key, NOW, signed, slot } from './support.ts';

const ED = { algorithm: 'ed25519', public: 'AAAA' };
const P256 = { algorithm: 'ecdsa-p256', public: 'BBBB' };
const NEXT = { algorithm: 'ed25519', public: 'CCCC' };

describe('trust.json', () => {
  it('requires schemaVersion, and only 1 exists', () => {
    expect(trustFileSchema.safeParse({ ciReleaseKey: {} }).success).toBe(false);
    expect(trustFileSchema.safeParse({ schemaVersion: 2, ciReleaseKey: {} }).success).toBe(false);
    expect(trustFileSchema.safeParse({ schemaVersion: 1, ciReleaseKey: {} }).success).toBe(true);
  });

  it('requires ciReleaseKey; every KeySlot field is optional; cacheKeys defaults to []', () => {
    expect(trustFileSchema.safeParse({ schemaVersion: 1 }).success).toBe(false);
    const t = trustFileSchema.parse({ schemaVersion: 1, ciReleaseKey: { current: ED, rejectBefore: null } });
    expect(t.cacheKeys).toEqual([]);
    expect(t.orgRootKey).toBeNull();
    expect(t.ciReleaseKey).toEqual({
      current: ED,
      previous: null,
      rejectBefore: null,
      successor: null,
      retireAt: null,
    });
  });

  it('accepts a bare base64 string as an ed25519 key (the form keygen prints) and unknown fields', () => {
    const t = trustFileSchema.parse({
      schemaVersion: 1,
      ciReleaseKey: { current: ' AAAA\n' },
      orgRootKey: { current: P256 },
      futureField: true,
    });
    expect(t.ciReleaseKey.current).toEqual(ED);
    expect(t.orgRootKey?.current).toEqual(P256);
  });

  it('keeps keys of unknown algorithms (the verifier skips them) but refuses a malformed rejectBefore', () => {
    expect(
      trustFileSchema.safeParse({
        schemaVersion: 1,
        ciReleaseKey: { current: { algorithm: 'x', public: '' } },
      }).success,
    ).toBe(true);
    expect(
      trustFileSchema.safeParse({ schemaVersion: 1, ciReleaseKey: { rejectBefore: 'yesterday' } }).success,
    ).toBe(false);
  });

  it('active keys at now are current, previous, then successor while now < retireAt', () => {
    const s = slot({ current: ED, previous: P256, successor: NEXT, retireAt: at(60) });
    expect(activeKeysAt(s, NOW)).toEqual([ED, P256, NEXT]);
    expect(activeKeysAt(s, new Date(NOW.getTime() + 60_000))).toEqual([ED, P256]);
    expect(activeKeysAt(slot({ current: ED, successor: NEXT }), NOW)).toEqual([ED]);
  });

  it('previous leaves the active set once now ≥ rejectBefore; current never does', () => {
    const s = slot({ current: ED, previous: P256, rejectBefore: at(0) });
    expect(activeKeysAt(s, new Date(NOW.getTime() - 1))).toEqual([ED, P256]);
    expect(activeKeysAt(s, NOW)).toEqual([ED]);
  });
});

describe('revocations.json and bootstrap-nonces.json', () => {
  const key = ed25519Key();
  const trust = slot({ current: key.pub });
  const opts = { trust, now: NOW, freshnessWindowSeconds: 3600 };
  const revocations = (
    meta: Record<string, unknown>,
    entries: unknown[] = [{ hostname: 'web-01', notBefore: at(-60) }],
  ) => ({
    schemaVersion: 1,
    revocations: entries,
    meta: { schemaVersion: 1, ...meta },
  });
  const code = (r: ReturnType<typeof verifyRevocations>): VerifyRefusalCode | 'ok' =>
    r.ok ? 'ok' : r.reason.code;

  it('verifies and parses the entries', () => {
    const r = verifyRevocations(signed(revocations({ signedAt: at(0) }), key), opts);
    expect(r.ok && r.value.inner.revocations).toEqual([
      { hostname: 'web-01', notBefore: at(-60), reason: null, revokedBy: null },
    ]);
  });

  it('an empty list is valid', () => {
    expect(code(verifyRevocations(signed(revocations({ signedAt: at(0) }, []), key), opts))).toBe('ok');
  });

  it.each([
    ['tampered signature', 'untrusted-signature'],
    ['stale', 'stale'],
    ['unsigned', 'not-signed'],
    ['malformed JSON', 'parse'],
    ['empty trust roots', 'no-trust-roots'],
    ['rejectBefore after signedAt', 'rejected-before-timestamp'],
  ] as const)('%s → %s', (kind, expected) => {
    let artifact = signed(revocations({ signedAt: at(0) }), key);
    let o = opts;
    if (kind === 'tampered signature') artifact = { ...artifact, signature: new Uint8Array(64) };
    else if (kind === 'stale') artifact = signed(revocations({ signedAt: at(-3661) }), key);
    else if (kind === 'unsigned') artifact = signed(revocations({}), key);
    else if (kind === 'malformed JSON') {
      const bytes = new Uint8Array(Buffer.from('{"revocations":[}'));
      artifact = { bytes, signature: key.sign(bytes) };
    } else if (kind === 'empty trust roots') o = { ...opts, trust: slot({}) };
    else o = { ...opts, trust: slot({ current: key.pub, rejectBefore: at(1) }) };
    expect(code(verifyRevocations(artifact, o))).toBe(expected);
  });

  it('rejectBefore unset disables the gate', () => {
    expect(code(verifyRevocations(signed(revocations({ signedAt: at(-100) }), key), opts))).toBe('ok');
  });

  it('bootstrap nonces verify with the same steps', () => {
    const value = {
      schemaVersion: 1,
      bootstrapNonces: [{ nonce: 'ab'.repeat(16), hostname: 'web-01', expiresAt: at(3600) }],
      meta: { signedAt: at(0) },
    };
    const r = verifyBootstrapNonces(signed(value, key), opts);
    expect(r.ok && r.value.inner.bootstrapNonces[0]?.hostname).toBe('web-01');
    expect(verifyBootstrapNonces(signed({ ...value, schemaVersion: 3 }, key), opts).ok).toBe(false);
  });
});
