// The verification algorithm of spec §1.11: every refusal reason, the order in which they win, the
// boundary semantics of freshness, key rotation through trust.json, and the §9.7
// `verify_artifact.rs` vectors (plus the successor/retireAt and whitespace cases §9.7 asks to add).
import { verify as nodeVerify } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  canonicalJsonBytes,
  fleetResolvedSchema,
  type KeySlot,
  type SignedArtifact,
  sha256Hex,
  type VerifyRefusalCode,
  verifyArtifact,
  verifyEd25519,
  verifyFleet,
} from '../../proto/index.ts';
import { at, ed25519Key, fleetValue, NOW, p256Key, prettyBytes, signed, slot } from './support.ts';

const WINDOW = 3600;

function check(artifact: SignedArtifact, trust: KeySlot, now: Date = NOW, window = WINDOW) {
  return verifyArtifact(fleetResolvedSchema, artifact, { trust, now, freshnessWindowSeconds: window });
}

function refusal(
  artifact: SignedArtifact,
  trust: KeySlot,
  now: Date = NOW,
  window = WINDOW,
): VerifyRefusalCode | 'ok' {
  const r = check(artifact, trust, now, window);
  return r.ok ? 'ok' : r.reason.code;
}

const L = 2n ** 252n + 27742317777372353535851937790883648493n;
const P256_N = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;

describe('signatures (step 4)', () => {
  const key = ed25519Key();
  const trust = slot({ current: key.pub });

  it('a valid ed25519 signature verifies and yields the verified value, its signedAt and hash', () => {
    const artifact = signed(fleetValue(), key);
    const r = check(artifact, trust);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value.signedAt).toBe(at(0));
    expect(r.value.sha256).toBe(sha256Hex(artifact.bytes));
    expect(Object.keys(r.value.inner.hosts).sort()).toEqual(['db-01', 'web-01', 'web-02']);
    expect(r.value.inner.hosts['web-01']?.platform).toBe('x86_64-linux');
  });

  it('a valid ecdsa-p256 signature (raw r‖s) verifies', () => {
    const p = p256Key();
    expect(refusal(signed(fleetValue(), p), slot({ current: p.pub }))).toBe('ok');
  });

  it('a high-S ecdsa-p256 signature is accepted after normalisation', () => {
    const p = p256Key();
    const artifact = signed(fleetValue(), p);
    const sig = Buffer.from(artifact.signature);
    const s = BigInt(`0x${sig.subarray(32).toString('hex')}`);
    const flipped = s > P256_N / 2n ? s : P256_N - s;
    const highS = Buffer.concat([
      sig.subarray(0, 32),
      Buffer.from(flipped.toString(16).padStart(64, '0'), 'hex'),
    ]);
    expect(refusal({ ...artifact, signature: new Uint8Array(highS) }, slot({ current: p.pub }))).toBe('ok');
  });

  it('a malleated ed25519 signature (S + L) is refused', () => {
    const artifact = signed(fleetValue(), key);
    const sig = Buffer.from(artifact.signature);
    let s = 0n;
    for (let i = 63; i >= 32; i--) s = (s << 8n) | BigInt(sig[i] ?? 0);
    s += L;
    for (let i = 32; i < 64; i++) {
      sig[i] = Number(s & 0xffn);
      s >>= 8n;
    }
    expect(refusal({ ...artifact, signature: new Uint8Array(sig) }, trust)).toBe('untrusted-signature');
  });

  it('a flipped signature byte is refused', () => {
    const artifact = signed(fleetValue(), key);
    const sig = Buffer.from(artifact.signature);
    sig[10] = (sig[10] ?? 0) ^ 0x01;
    expect(refusal({ ...artifact, signature: new Uint8Array(sig) }, trust)).toBe('untrusted-signature');
  });

  it('a signature of the wrong length is refused, not thrown', () => {
    const artifact = signed(fleetValue(), key);
    const r = check({ ...artifact, signature: artifact.signature.subarray(0, 63) }, trust);
    expect(r.ok ? 'ok' : r.reason).toMatchObject({
      code: 'untrusted-signature',
      detail: expect.stringMatching(/63 bytes/),
    });
  });

  it('a signature by a key that is not trusted is refused', () => {
    expect(refusal(signed(fleetValue(), ed25519Key()), trust)).toBe('untrusted-signature');
  });

  it('a tampered payload byte inside a string is refused as untrusted-signature', () => {
    const artifact = signed(fleetValue(), key);
    const text = Buffer.from(artifact.bytes).toString('utf8').replace('web-02', 'web-03');
    expect(refusal({ ...artifact, bytes: new Uint8Array(Buffer.from(text)) }, trust)).toBe(
      'untrusted-signature',
    );
  });

  it('a tampered payload byte that breaks the JSON is refused as parse', () => {
    const artifact = signed(fleetValue(), key);
    const bytes = Buffer.from(artifact.bytes);
    bytes[0] = 0x5b; // "{" → "["
    expect(refusal({ ...artifact, bytes: new Uint8Array(bytes) }, trust)).toBe('parse');
  });

  it('whitespace and member order do not matter: the signature covers the canonical form', () => {
    const artifact = signed(fleetValue(), key);
    const pretty = prettyBytes(artifact);
    expect(Buffer.from(pretty).equals(Buffer.from(artifact.bytes))).toBe(false);
    const r = check({ ...artifact, bytes: pretty }, trust);
    expect(r.ok && r.value.sha256).toBe(sha256Hex(artifact.bytes));
  });

  it('a small-order public key with S = 0, which node:crypto alone accepts, is refused (verify_strict)', () => {
    const identity = Buffer.alloc(32);
    identity[0] = 1;
    const forged = new Uint8Array(Buffer.concat([identity, Buffer.alloc(32)]));
    const message = canonicalJsonBytes(fleetValue());
    const jwkKey = {
      key: { kty: 'OKP', crv: 'Ed25519', x: identity.toString('base64url') },
      format: 'jwk',
    } as const;
    // The guard matters: OpenSSL's cofactorless check lets this forgery through.
    expect(nodeVerify(null, message, jwkKey, forged)).toBe(true);
    expect(verifyEd25519(message, forged, new Uint8Array(identity))).toBe(false);
    const trustIdentity = slot({ current: { algorithm: 'ed25519', public: identity.toString('base64') } });
    expect(refusal({ bytes: message, signature: forged }, trustIdentity)).toBe('untrusted-signature');
  });
});

describe('trust roots and key selection (steps 1 and 4)', () => {
  const key = ed25519Key();
  const artifact = signed(fleetValue(), key);

  it('no trusted key → no-trust-roots', () => {
    expect(refusal(artifact, slot({}))).toBe('no-trust-roots');
  });

  it('only keys of unknown algorithms → unsupported-algorithm naming the algorithm', () => {
    const r = check(artifact, slot({ current: { algorithm: 'rsa-4096', public: 'AAAA' } }));
    expect(r.ok ? 'ok' : r.reason).toMatchObject({
      code: 'unsupported-algorithm',
      detail: expect.stringContaining('rsa-4096'),
    });
  });

  it('an unknown algorithm is skipped when a supported key is also present', () => {
    expect(
      refusal(artifact, slot({ current: { algorithm: 'rsa-4096', public: 'AAAA' }, previous: key.pub })),
    ).toBe('ok');
  });

  it('keys are tried in order: current fails, previous verifies', () => {
    expect(refusal(artifact, slot({ current: ed25519Key().pub, previous: key.pub }))).toBe('ok');
  });

  it('a cross-algorithm rotation list (p256 current, ed25519 previous) accepts a p256 signature', () => {
    const p = p256Key();
    expect(refusal(signed(fleetValue(), p), slot({ current: p.pub, previous: key.pub }))).toBe('ok');
  });

  it('a key whose public part does not decode is skipped like a non-matching key → untrusted-signature', () => {
    expect(refusal(artifact, slot({ current: { algorithm: 'ed25519', public: 'not base64!' } }))).toBe(
      'untrusted-signature',
    );
    expect(refusal(artifact, slot({ current: { algorithm: 'ed25519', public: 'AAAA' } }))).toBe(
      'untrusted-signature',
    );
  });

  it('the meta.signatureAlgorithm field does not select keys (p256 label, ed25519 signature)', () => {
    const labelled = signed(fleetValue({ signedAt: at(0), signatureAlgorithm: 'ecdsa-p256' }), key);
    expect(refusal(labelled, slot({ current: key.pub }))).toBe('ok');
  });

  it('a rotated key (previous) stays valid before rejectBefore and is refused once now ≥ rejectBefore', () => {
    const oldKey = ed25519Key();
    const newKey = ed25519Key();
    const cutoff = at(0);
    const rotated = slot({ current: newKey.pub, previous: oldKey.pub, rejectBefore: cutoff });
    // Signed at the cut-off itself by the old key (step 7 lets signedAt == rejectBefore through).
    const byOld = signed(fleetValue({ signedAt: cutoff }), oldKey);
    expect(refusal(byOld, rotated, new Date(NOW.getTime() - 30_000))).toBe('ok');
    expect(refusal(byOld, rotated, NOW)).toBe('untrusted-signature');
    expect(refusal(byOld, rotated, new Date(NOW.getTime() + 600_000))).toBe('untrusted-signature');
    // The new key is unaffected, and without a rejectBefore the previous key keeps its grace.
    expect(
      refusal(signed(fleetValue({ signedAt: cutoff }), newKey), rotated, new Date(NOW.getTime() + 600_000)),
    ).toBe('ok');
    expect(
      refusal(byOld, slot({ current: newKey.pub, previous: oldKey.pub }), new Date(NOW.getTime() + 600_000)),
    ).toBe('ok');
  });

  it('a successor is trusted only while now < retireAt, and ignored without retireAt', () => {
    const current = ed25519Key();
    const successor = ed25519Key();
    const bySuccessor = signed(fleetValue(), successor);
    const before = new Date(NOW.getTime() + 10_000);
    expect(
      refusal(
        bySuccessor,
        slot({ current: current.pub, successor: successor.pub, retireAt: at(20) }),
        before,
      ),
    ).toBe('ok');
    expect(
      refusal(
        bySuccessor,
        slot({ current: current.pub, successor: successor.pub, retireAt: at(10) }),
        before,
      ),
    ).toBe('untrusted-signature');
    expect(refusal(bySuccessor, slot({ current: current.pub, successor: successor.pub }), before)).toBe(
      'untrusted-signature',
    );
  });
});

describe('content checks (steps 2, 3, 5, 6)', () => {
  const key = ed25519Key();
  const trust = slot({ current: key.pub });

  it('malformed JSON → parse', () => {
    const bytes = new Uint8Array(Buffer.from('{"schemaVersion": 1,'));
    expect(refusal({ bytes, signature: key.sign(bytes) }, trust)).toBe('parse');
  });

  it('JSON that cannot be canonicalized (an unpaired surrogate) → canonicalize', () => {
    const bytes = new Uint8Array(Buffer.from('{"schemaVersion":1,"x":"\\ud800"}'));
    expect(refusal({ bytes, signature: key.sign(bytes) }, trust)).toBe('canonicalize');
  });

  it('validly signed JSON that is not a fleet → parse, naming the field', () => {
    const r = check(signed({ schemaVersion: 1, meta: { signedAt: at(0) } }, key), trust);
    expect(r.ok ? 'ok' : r.reason).toMatchObject({ code: 'parse', detail: expect.stringContaining('hosts') });
  });

  it('schemaVersion 2 → schema-version-unsupported naming 2', () => {
    const r = check(signed({ ...fleetValue(), schemaVersion: 2 }, key), trust);
    expect(r.ok ? 'ok' : r.reason).toMatchObject({
      code: 'schema-version-unsupported',
      detail: expect.stringContaining('2'),
    });
  });

  it('missing signedAt (absent or null) → not-signed', () => {
    expect(refusal(signed(fleetValue({ ciCommit: 'abc' }), key), trust)).toBe('not-signed');
    expect(refusal(signed(fleetValue({ signedAt: null }), key), trust)).toBe('not-signed');
  });

  it('unknown fields are accepted and covered by the signature', () => {
    const value = { ...fleetValue(), effectiveHealthChecks: { 'web-01': {} }, futureField: [1, 2] };
    const artifact = signed(value, key);
    expect(refusal(artifact, trust)).toBe('ok');
    const text = Buffer.from(artifact.bytes).toString('utf8').replace('[1,2]', '[1,3]');
    expect(refusal({ ...artifact, bytes: new Uint8Array(Buffer.from(text)) }, trust)).toBe(
      'untrusted-signature',
    );
  });
});

describe('rejectBefore and freshness (steps 7-9)', () => {
  const key = ed25519Key();
  const trust = slot({ current: key.pub });
  const signedAtOffset = (seconds: number) => signed(fleetValue({ signedAt: at(seconds) }), key);

  it('rejectBefore later than signedAt → rejected-before-timestamp', () => {
    expect(refusal(signedAtOffset(0), slot({ current: key.pub, rejectBefore: at(1) }))).toBe(
      'rejected-before-timestamp',
    );
  });

  it('rejectBefore wins over stale (checked before freshness)', () => {
    const old = signedAtOffset(-10 * WINDOW);
    expect(refusal(old, trust)).toBe('stale');
    expect(refusal(old, slot({ current: key.pub, rejectBefore: at(0) }))).toBe('rejected-before-timestamp');
  });

  it('rejectBefore equal to signedAt is accepted; no rejectBefore disables the gate', () => {
    expect(refusal(signedAtOffset(-100), slot({ current: key.pub, rejectBefore: at(-100) }))).toBe('ok');
    expect(refusal(signedAtOffset(-100), trust)).toBe('ok');
  });

  it.each([
    [WINDOW, 'ok'],
    [WINDOW + 30, 'ok'],
    [WINDOW + 60, 'ok'],
    [WINDOW + 61, 'stale'],
    [10 * WINDOW, 'stale'],
  ] as const)('age %i s against a %i s window → %s', (age, expected) => {
    expect(refusal(signedAtOffset(-age), trust)).toBe(expected);
  });

  it('the stale detail names signedAt, now and the window', () => {
    const r = check(signedAtOffset(-WINDOW - 61), trust);
    expect(r.ok ? 'ok' : r.reason.detail).toMatch(
      new RegExp(`${at(-WINDOW - 61)}.*${NOW.toISOString()}.*${WINDOW} s`),
    );
  });

  it.each([
    [30, 'ok'],
    [60, 'ok'],
    [61, 'future-dated'],
    [2 * 86_400, 'future-dated'],
  ] as const)('signedAt %i s in the future → %s', (ahead, expected) => {
    expect(refusal(signedAtOffset(ahead), trust)).toBe(expected);
  });

  it('order: a bad signature wins over every content check', () => {
    const broken = signed({ ...fleetValue({ signedAt: null }), schemaVersion: 2 }, ed25519Key());
    expect(refusal(broken, trust)).toBe('untrusted-signature');
  });

  it('order: schemaVersion wins over missing signedAt, missing signedAt over rejectBefore', () => {
    expect(refusal(signed({ ...fleetValue({ signedAt: null }), schemaVersion: 2 }, key), trust)).toBe(
      'schema-version-unsupported',
    );
    expect(
      refusal(signed(fleetValue({ signedAt: null }), key), slot({ current: key.pub, rejectBefore: at(0) })),
    ).toBe('not-signed');
  });

  it('a freshness window given as a function is computed from the signature-checked artifact', () => {
    const artifact = signedAtOffset(-7200);
    const r = verifyArtifact(fleetResolvedSchema, artifact, {
      trust,
      now: NOW,
      freshnessWindowSeconds: (fleet) => Object.keys(fleet.hosts).length * 3000,
    });
    expect(r.ok).toBe(true);
  });
});

describe('verifyFleet', () => {
  const key = ed25519Key();
  const trust = slot({ current: key.pub });

  it('normalizes an all-at-once policy without waves to one wave over every host (spec §1.5)', () => {
    const r = verifyFleet(signed(fleetValue(), key), { trust, now: NOW });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value.inner.rolloutPolicies.fast?.waves).toEqual([
      { selector: { tags: [], tagsAny: [], hosts: [], channel: null, all: true }, soakMinutes: 0 },
    ]);
    expect(r.value.inner.rolloutPolicies.canary?.waves).toHaveLength(2);
    expect(r.value.inner.channelEdges).toEqual([{ gates: 'edge', gated: 'stable', reason: null }]);
  });

  it('defaults its window to the largest channel window (1440 min here)', () => {
    const day = signed(fleetValue({ signedAt: at(-1440 * 60) }), key);
    expect(verifyFleet(day, { trust, now: NOW }).ok).toBe(true);
    const r = verifyFleet(signed(fleetValue({ signedAt: at(-1440 * 60 - 61) }), key), { trust, now: NOW });
    expect(r.ok ? 'ok' : r.reason.code).toBe('stale');
    expect(verifyFleet(day, { trust, now: NOW, freshnessWindowSeconds: 60 }).ok).toBe(false);
  });
});
