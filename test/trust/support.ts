// Keys, signed artifacts and small fleets for the trust tests. Keys are generated per run: nothing
// here is a fixture secret.
import { generateKeyPairSync, type KeyObject, sign } from 'node:crypto';
import {
  canonicalJsonBytes,
  type KeySlot,
  type PubKey,
  type SignedArtifact,
  signArtifact,
} from '../../proto/index.ts';
import { ed25519Raw } from '../../proto/sshKey.ts';

export interface TestKey {
  readonly privateKey: KeyObject;
  readonly pub: PubKey;
  readonly sign: (bytes: Uint8Array) => Uint8Array;
}

export function ed25519Key(): TestKey {
  const { privateKey } = generateKeyPairSync('ed25519');
  return {
    privateKey,
    pub: { algorithm: 'ed25519', public: ed25519Raw(privateKey).toString('base64') },
    sign: (bytes) => signArtifact(bytes, privateKey),
  };
}

export function p256Key(): TestKey {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwk = publicKey.export({ format: 'jwk' });
  const xy = Buffer.concat([Buffer.from(jwk.x ?? '', 'base64url'), Buffer.from(jwk.y ?? '', 'base64url')]);
  return {
    privateKey,
    pub: { algorithm: 'ecdsa-p256', public: xy.toString('base64') },
    sign: (bytes) => new Uint8Array(sign('sha256', bytes, { key: privateKey, dsaEncoding: 'ieee-p1363' })),
  };
}

export function slot(fields: Partial<KeySlot>): KeySlot {
  return { current: null, previous: null, rejectBefore: null, successor: null, retireAt: null, ...fields };
}

/** Canonical bytes of `value` and their signature by `key` (what `release build` writes). */
export function signed(value: unknown, key: TestKey): SignedArtifact {
  const bytes = canonicalJsonBytes(value);
  return { bytes, signature: key.sign(bytes) };
}

/** Same content, non-canonical text (pretty, reordered): the signature still covers it. */
export function prettyBytes(artifact: SignedArtifact): Uint8Array {
  const value = JSON.parse(Buffer.from(artifact.bytes).toString('utf8')) as Record<string, unknown>;
  const reversed = Object.fromEntries(Object.entries(value).reverse());
  return new Uint8Array(Buffer.from(JSON.stringify(reversed, null, 2)));
}

export const NOW = new Date('2026-04-24T10:00:00Z');

/** `NOW` shifted by seconds, as RFC 3339. */
export function at(offsetSeconds: number): string {
  return new Date(NOW.getTime() + offsetSeconds * 1000).toISOString();
}

export const CLOSURE_A = '0123456789abcdfghijklmnpqrsvwxyz-nixos-system-web-01-26.05';
export const CLOSURE_B = 'zyxwvsrqpnmlkjihgfdcba9876543210-nixos-system-web-02-26.05';

/** A small valid `fleet.resolved.json` value: two channels, staged and all-at-once. */
export function fleetValue(
  meta: Record<string, unknown> = { signedAt: at(0), ciCommit: 'abc123' },
): Record<string, unknown> {
  return {
    schemaVersion: 1,
    hosts: {
      'web-01': {
        system: 'x86_64-linux',
        tags: ['web'],
        channel: 'stable',
        closureHash: CLOSURE_A,
        pubkey: null,
      },
      'web-02': {
        platform: 'x86_64-linux',
        tags: ['web'],
        channel: 'stable',
        closureHash: CLOSURE_B,
        pubkey: null,
      },
      'db-01': { platform: 'x86_64-linux', tags: ['db'], channel: 'edge', closureHash: null, pubkey: null },
    },
    channels: {
      stable: {
        rolloutPolicy: 'canary',
        reconcileIntervalMinutes: 30,
        freshnessWindow: 60,
        signingIntervalMinutes: 30,
      },
      edge: {
        rolloutPolicy: 'fast',
        reconcileIntervalMinutes: 30,
        freshnessWindow: 1440,
        signingIntervalMinutes: 60,
      },
    },
    rolloutPolicies: {
      canary: {
        strategy: 'canary',
        waves: [
          { selector: { hosts: ['web-01'] }, soakMinutes: 5 },
          { selector: { tags: ['web'], and: [], not: null }, soakMinutes: 10 },
        ],
        healthGate: {},
        onHealthFailure: 'rollback-and-halt',
      },
      fast: { strategy: 'all-at-once', waves: [], healthGate: {}, onHealthFailure: 'halt' },
    },
    waves: {
      stable: [
        { hosts: ['web-01'], soakMinutes: 5 },
        { hosts: ['web-01', 'web-02'], soakMinutes: 10 },
      ],
    },
    edges: [],
    channelEdges: [{ before: 'edge', after: 'stable' }],
    disruptionBudgets: [{ selector: { tags: ['web'] }, maxInFlight: 1, maxInFlightPct: null }],
    meta: { schemaVersion: 1, ...meta },
  };
}
