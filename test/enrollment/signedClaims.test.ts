// Bootstrap tokens and possession proofs (proto/bootstrapToken.ts, proto/possessionProof.ts): what
// each accepts, and the typed reason for each refusal. Time is always passed in.
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { CompactSign } from 'jose';
import { describe, expect, it } from 'vitest';
import { createMtlsKeyAndCsr } from '../../agent/enrollment/index.ts';
import {
  BOOTSTRAP_TOKEN_TYP,
  mintBootstrapToken,
  readBootstrapTokenClaimsUnverified,
  verifyBootstrapToken,
} from '../../proto/bootstrapToken.ts';
import { parseDuration } from '../../proto/duration.ts';
import { csrDer, signPossessionProof, verifyPossessionProof } from '../../proto/possessionProof.ts';
import { FIXTURE_FINGERPRINT } from './support/world.ts';

const T0 = new Date('2026-03-01T12:00:00Z');
const at = (seconds: number) => new Date(T0.getTime() + seconds * 1000);
const keyPair = () => {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return { privateKey, publicKey };
};
const org = keyPair();
const previous = keyPair();

async function token(overrides: { orgKey?: KeyObject; now?: Date; ttlMs?: number } = {}) {
  return mintBootstrapToken({
    hostname: 'web-01',
    sshFingerprint: FIXTURE_FINGERPRINT,
    orgKey: overrides.orgKey ?? org.privateKey,
    ttlMs: overrides.ttlMs ?? 3_600_000,
    now: overrides.now ?? T0,
  });
}

const code = (r: { ok: true } | { ok: false; error: { code: string } }) => (r.ok ? 'ok' : r.error.code);

describe('bootstrap tokens', () => {
  it('carry hostname, a 16-byte hex nonce, iat/exp and the SSH fingerprint, and verify', async () => {
    const { token: jws, claims } = await token();
    expect(claims).toMatchObject({ v: 1, hostname: 'web-01', sshFingerprint: FIXTURE_FINGERPRINT });
    expect(claims.nonce).toMatch(/^[0-9a-f]{32}$/);
    expect(claims.exp - claims.iat).toBe(3600);
    expect(await verifyBootstrapToken(jws, { keys: [org.publicKey], now: at(60) })).toEqual({
      ok: true,
      claims,
    });
    expect(readBootstrapTokenClaimsUnverified(jws)).toEqual({ ok: true, claims });
  });

  it('draw a fresh nonce each time', async () => {
    const nonces = new Set(
      await Promise.all(Array.from({ length: 50 }, async () => (await token()).claims.nonce)),
    );
    expect(nonces.size).toBe(50);
  });

  it('verify against any active key (rotation) and not against others', async () => {
    const { token: byPrevious } = await token({ orgKey: previous.privateKey });
    expect(
      code(await verifyBootstrapToken(byPrevious, { keys: [org.publicKey, previous.publicKey], now: T0 })),
    ).toBe('ok');
    expect(code(await verifyBootstrapToken(byPrevious, { keys: [org.publicKey], now: T0 }))).toBe(
      'TokenSignatureInvalid',
    );
    expect(code(await verifyBootstrapToken(byPrevious, { keys: [], now: T0 }))).toBe('TokenSignatureInvalid');
  });

  it('are valid from iat (60 s skew allowed) until just before exp', async () => {
    const { token: jws } = await token();
    const verify = (now: Date) => verifyBootstrapToken(jws, { keys: [org.publicKey], now });
    expect(code(await verify(at(-60)))).toBe('ok');
    expect(code(await verify(at(-61)))).toBe('TokenNotYetValid');
    expect(code(await verify(at(3599)))).toBe('ok');
    expect(code(await verify(at(3600)))).toBe('TokenExpired');
  });

  it('are refused when issued before the org key’s rejectBefore, although validly signed', async () => {
    const { token: jws } = await token();
    const verify = (rejectBefore: Date) =>
      verifyBootstrapToken(jws, { keys: [org.publicKey], now: T0, rejectBefore });
    expect(code(await verify(at(1)))).toBe('TokenSignedBeforeRejectBefore');
    expect(code(await verify(T0))).toBe('ok');
  });

  it('refuse tampering, other JWS types, bad claims and garbage with a typed reason', async () => {
    const { token: jws } = await token();
    const [h, p, s] = jws.split('.');
    const forged = Buffer.from(
      JSON.stringify({ ...JSON.parse(Buffer.from(p ?? '', 'base64url').toString()), hostname: 'db-01' }),
    );
    const signedOther = async (typ: string, payload: unknown) =>
      new CompactSign(Buffer.from(JSON.stringify(payload)))
        .setProtectedHeader({ alg: 'EdDSA', typ })
        .sign(org.privateKey);
    const base = readBootstrapTokenClaimsUnverified(jws);
    if (!base.ok) throw new Error(base.message);
    const cases: [string, string][] = [
      [`${h}.${forged.toString('base64url')}.${s}`, 'TokenSignatureInvalid'],
      ['not-a-jws', 'TokenMalformed'],
      [await signedOther('nixfleet-possession+jwt', base.claims), 'TokenMalformed'],
      [await signedOther(BOOTSTRAP_TOKEN_TYP, { ...base.claims, v: 2 }), 'TokenClaimsInvalid'],
      [await signedOther(BOOTSTRAP_TOKEN_TYP, { ...base.claims, extra: 1 }), 'TokenClaimsInvalid'],
      [
        await signedOther(BOOTSTRAP_TOKEN_TYP, { ...base.claims, exp: base.claims.iat }),
        'TokenClaimsInvalid',
      ],
      [await signedOther(BOOTSTRAP_TOKEN_TYP, { ...base.claims, nonce: 'short' }), 'TokenClaimsInvalid'],
    ];
    for (const [candidate, expected] of cases) {
      expect(code(await verifyBootstrapToken(candidate, { keys: [org.publicKey], now: T0 })), expected).toBe(
        expected,
      );
    }
  });

  it('cannot be minted with anything but an ed25519 private key', async () => {
    await expect(token({ orgKey: org.publicKey })).rejects.toThrow(/ed25519 private key/);
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey;
    await expect(token({ orgKey: rsa })).rejects.toThrow(/ed25519 private key/);
  });
});

describe('possession proofs', () => {
  const host = keyPair();
  const { csrPem } = createMtlsKeyAndCsr('web-01');
  const der = csrDer(csrPem) ?? Buffer.alloc(0);
  const nonce = '0f'.repeat(16);
  const verify = (
    proof: string,
    overrides: Partial<{ hostKey: KeyObject; csrDer: Buffer; nonce: string; now: Date }> = {},
  ) => verifyPossessionProof(proof, { hostKey: host.publicKey, csrDer: der, nonce, now: T0, ...overrides });

  it('bind the CSR, the nonce and the time, and verify with the host key', async () => {
    const proof = await signPossessionProof({ sshKey: host.privateKey, csrPem, nonce, now: T0 });
    expect(code(await verify(proof))).toBe('ok');
    // PEM armour is not what is signed: re-wrapping the same DER still matches.
    const rewrapped = csrPem.replace(/\n/g, '\r\n');
    expect(csrDer(rewrapped)?.equals(der)).toBe(true);
  });

  it('are fresh for ±5 minutes', async () => {
    const proof = await signPossessionProof({ sshKey: host.privateKey, csrPem, nonce, now: T0 });
    expect(code(await verify(proof, { now: at(300) }))).toBe('ok');
    expect(code(await verify(proof, { now: at(-300) }))).toBe('ok');
    expect(code(await verify(proof, { now: at(301) }))).toBe('ProofStale');
    expect(code(await verify(proof, { now: at(-301) }))).toBe('ProofStale');
  });

  it('refuse another key, another CSR, another nonce, and a bootstrap token in their place', async () => {
    const proof = await signPossessionProof({ sshKey: host.privateKey, csrPem, nonce, now: T0 });
    const other = createMtlsKeyAndCsr('web-01');
    expect(code(await verify(proof, { hostKey: keyPair().publicKey }))).toBe('ProofSignatureInvalid');
    expect(code(await verify(proof, { csrDer: csrDer(other.csrPem) ?? Buffer.alloc(0) }))).toBe(
      'ProofCsrMismatch',
    );
    expect(code(await verify(proof, { nonce: 'aa'.repeat(16) }))).toBe('ProofNonceMismatch');
    const { token: jws } = await token({ orgKey: host.privateKey });
    expect(code(await verify(jws))).toBe('ProofMalformed');
  });
});

describe('durations', () => {
  it('take ms, s, m, h and d, and refuse bare numbers and unknown units', () => {
    const ms = (s: string) => {
      const parsed = parseDuration(s);
      return parsed.ok ? parsed.ms : parsed.error.code;
    };
    expect([ms('250ms'), ms('30s'), ms('5m'), ms('1h'), ms('1.5h'), ms('7d')]).toEqual([
      250, 30_000, 300_000, 3_600_000, 5_400_000, 604_800_000,
    ]);
    expect([ms('60'), ms('1w'), ms(''), ms('-1h'), ms('h')]).toEqual(Array(5).fill('InvalidDuration'));
  });
});
