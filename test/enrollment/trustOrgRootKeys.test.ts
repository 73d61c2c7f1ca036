// trust.json's orgRootKey slot as the enrollment service sees it (cp/enrollment/trustOrgRootKeys.ts).
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { orgRootKeysFromTrust } from '../../cp/enrollment/index.ts';
import { mintBootstrapToken, verifyBootstrapToken } from '../../proto/bootstrapToken.ts';
import { type TrustFile, trustFileSchema } from '../../proto/trust/index.ts';
import { FIXTURE_FINGERPRINT } from './support/world.ts';

const NOW = new Date('2026-07-01T00:00:00Z');
const pair = () => generateKeyPairSync('ed25519');
const raw = (key: KeyObject) =>
  Buffer.from(key.export({ format: 'jwk' }).x ?? '', 'base64url').toString('base64');

function trust(orgRootKey: unknown): TrustFile {
  return trustFileSchema.parse({
    schemaVersion: 1,
    ciReleaseKey: { current: raw(pair().publicKey) },
    orgRootKey,
  });
}

async function accepted(keys: ReturnType<typeof orgRootKeysFromTrust>, signer: KeyObject): Promise<boolean> {
  const { token } = await mintBootstrapToken({
    hostname: 'web-01',
    sshFingerprint: FIXTURE_FINGERPRINT,
    orgKey: signer,
    ttlMs: 3_600_000,
    now: NOW,
  });
  const verified = await verifyBootstrapToken(token, {
    keys: keys.activeKeys(NOW),
    now: NOW,
    rejectBefore: keys.rejectBefore?.(NOW),
  });
  return verified.ok;
}

describe('org root keys from trust.json', () => {
  const current = pair();
  const previous = pair();
  const successor = pair();

  it('trusts current, previous, and a successor before its retireAt; skips non-ed25519 and broken entries', async () => {
    const keys = orgRootKeysFromTrust(() =>
      trust({
        current: { algorithm: 'ed25519', public: raw(current.publicKey) },
        previous: raw(previous.publicKey),
        successor: { algorithm: 'ecdsa-p256', public: 'AAAA' },
        retireAt: '2026-08-01T00:00:00Z',
      }),
    );
    expect(keys.activeKeys(NOW)).toHaveLength(2);
    expect(await accepted(keys, current.privateKey)).toBe(true);
    expect(await accepted(keys, previous.privateKey)).toBe(true);
    expect(await accepted(keys, successor.privateKey)).toBe(false);

    const withSuccessor = orgRootKeysFromTrust(() =>
      trust({
        current: raw(current.publicKey),
        successor: raw(successor.publicKey),
        retireAt: '2026-08-01T00:00:00Z',
      }),
    );
    expect(await accepted(withSuccessor, successor.privateKey)).toBe(true);
    const broken = orgRootKeysFromTrust(() =>
      trust({ current: raw(current.publicKey), previous: 'bm90IGEga2V5' }),
    );
    expect(broken.activeKeys(NOW)).toHaveLength(1);
  });

  it('refuses tokens issued before rejectBefore, and has no keys without an orgRootKey', async () => {
    const keys = orgRootKeysFromTrust(() =>
      trust({ current: raw(current.publicKey), rejectBefore: '2026-07-01T00:00:01Z' }),
    );
    expect(await accepted(keys, current.privateKey)).toBe(false);
    expect(orgRootKeysFromTrust(() => trust(undefined)).activeKeys(NOW)).toEqual([]);
    expect(orgRootKeysFromTrust(() => undefined).activeKeys(NOW)).toEqual([]);
  });
});
