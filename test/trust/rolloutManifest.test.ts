// Rollout manifests (spec §1.7-1.8): the deterministic projection, its canonical-bytes vectors,
// RolloutId helpers, and `verifyRolloutManifest` with its two discriminators (requested id, fleet
// hash) on top of the §9.7 `verify_rollout_manifest.rs` subset.
import { describe, expect, it } from 'vitest';
import {
  canonicalJson,
  fleetResolvedSchema,
  isPathSafeRolloutId,
  looksLikeRolloutId,
  parseRolloutId,
  projectRolloutManifest,
  projectRolloutManifests,
  type RolloutManifest,
  rolloutIdForChannel,
  rolloutIdOf,
  rolloutManifestSchema,
  selectorSummary,
  sha256Hex,
  type VerifyRefusalCode,
  verifyRolloutManifest,
} from '../../proto/index.ts';
import { at, CLOSURE_A, CLOSURE_B, ed25519Key, fleetValue, NOW, signed, slot } from './support.ts';

const FLEET_HASH = sha256Hex(canonicalJson(fleetValue()));

function fleet(meta?: Record<string, unknown>) {
  return fleetResolvedSchema.parse(fleetValue(meta));
}

function stableManifest(meta?: Record<string, unknown>): RolloutManifest {
  const r = projectRolloutManifest(fleet(meta), FLEET_HASH, 'stable');
  if (!r.ok || r.manifest === null) throw new Error('no stable manifest');
  return r.manifest;
}

describe('RolloutId (spec §1.8)', () => {
  it('is <channel>@<channelRef> and splits on the first @', () => {
    expect(rolloutIdOf('stable', 'abc123')).toBe('stable@abc123');
    expect(parseRolloutId('stable@abc@def')).toEqual({ channel: 'stable', channelRef: 'abc@def' });
    expect(parseRolloutId('nochannel')).toBeNull();
    expect(parseRolloutId('@abc')).toBeNull();
    expect(() => rolloutIdOf('a@b', 'c')).toThrow(/@/);
  });

  it('two channels at the same ref are two rollouts (D-007)', () => {
    expect(rolloutIdOf('edge', 'abc')).not.toBe(rolloutIdOf('stable', 'abc'));
  });

  it('the route validator wants [a-z0-9_-]@lowercase-hex and refuses legacy 64-hex ids', () => {
    expect(looksLikeRolloutId('stable@abc123')).toBe(true);
    expect(looksLikeRolloutId('edge_1-x@0f')).toBe(true);
    expect(looksLikeRolloutId('a'.repeat(64))).toBe(false);
    expect(looksLikeRolloutId('Stable@abc')).toBe(false);
    expect(looksLikeRolloutId('stable@ABC')).toBe(false);
    expect(looksLikeRolloutId('stable@abc@def')).toBe(false);
    expect(looksLikeRolloutId('stable@')).toBe(false);
  });

  it('ids with path separators, "..", or control characters cannot name a file', () => {
    expect(isPathSafeRolloutId('stable@abc123')).toBe(true);
    for (const bad of ['stable@../../etc', 'a/b@c', 'a@b/c', 'a@b\\c', 'a@b\u0000', 'noat', '..@x']) {
      expect(isPathSafeRolloutId(bad), bad).toBe(false);
    }
  });
});

describe('projection (spec §1.7)', () => {
  it('projects one manifest per channel with a buildable host, hostSet sorted with wave indexes', () => {
    const r = projectRolloutManifests(fleet(), FLEET_HASH);
    expect(r.ok && r.manifests.map((m) => m.channel)).toEqual(['stable']);
    const m = stableManifest();
    expect(m).toMatchObject({
      schemaVersion: 1,
      displayName: 'stable@abc123',
      channel: 'stable',
      channelRef: 'abc123',
      fleetResolvedHash: FLEET_HASH,
      hostSet: [
        { hostname: 'web-01', waveIndex: 0, targetClosure: CLOSURE_A },
        { hostname: 'web-02', waveIndex: 1, targetClosure: CLOSURE_B },
      ],
      meta: { schemaVersion: 1, signedAt: at(0), ciCommit: 'abc123', signatureAlgorithm: 'ed25519' },
    });
    // Every fleet budget, resolved against all hosts of every channel, sorted.
    expect(m.disruptionBudgets).toEqual([
      {
        selector: { tags: ['web'], tagsAny: [], hosts: [], channel: null, all: false },
        hosts: ['web-01', 'web-02'],
        maxInFlight: 1,
        maxInFlightPct: null,
      },
    ]);
  });

  it('a channel whose hosts have no closure gets no manifest and no rollout id', () => {
    const r = projectRolloutManifest(fleet(), FLEET_HASH, 'edge');
    expect(r).toEqual({ ok: true, manifest: null });
    expect(rolloutIdForChannel(fleet(), 'edge')).toBeNull();
    expect(rolloutIdForChannel(fleet(), 'stable')).toBe('stable@abc123');
  });

  it('an unknown channel is an error, not "no manifest"', () => {
    expect(projectRolloutManifest(fleet(), FLEET_HASH, 'nope').ok).toBe(false);
  });

  it('displayName uses the first 8 characters of ciCommit, or "unknown"; channelRef is "" without one', () => {
    expect(stableManifest({ signedAt: at(0), ciCommit: '0123456789abcdef' }).displayName).toBe(
      'stable@01234567',
    );
    const none = stableManifest({ signedAt: at(0) });
    expect([none.displayName, none.channelRef]).toEqual(['stable@unknown', '']);
  });

  it('canonical bytes are stable across serialize → canonicalize → parse', () => {
    const m = stableManifest();
    const once = canonicalJson(m);
    expect(canonicalJson(rolloutManifestSchema.parse(JSON.parse(once)))).toBe(once);
  });

  it('reversing hostSet changes the canonical bytes, re-sorting restores them', () => {
    const m = stableManifest();
    const reversed = { ...m, hostSet: [...m.hostSet].reverse() };
    expect(canonicalJson(reversed)).not.toBe(canonicalJson(m));
    const resorted = {
      ...reversed,
      hostSet: [...reversed.hostSet].sort((a, b) => a.hostname.localeCompare(b.hostname)),
    };
    expect(canonicalJson(resorted)).toBe(canonicalJson(m));
  });

  it('changing fleetResolvedHash or one targetClosure changes the canonical bytes', () => {
    const m = stableManifest();
    expect(canonicalJson({ ...m, fleetResolvedHash: '0'.repeat(64) })).not.toBe(canonicalJson(m));
    const [first, ...rest] = m.hostSet;
    if (first === undefined) throw new Error('empty hostSet');
    expect(canonicalJson({ ...m, hostSet: [{ ...first, targetClosure: CLOSURE_B }, ...rest] })).not.toBe(
      canonicalJson(m),
    );
  });

  it('HostWave serializes waveIndex and targetClosure in camelCase', () => {
    expect(canonicalJson(stableManifest().hostSet[0])).toBe(
      `{"hostname":"web-01","targetClosure":"${CLOSURE_A}","waveIndex":0}`,
    );
  });

  it('selector summaries (spec §1.6)', () => {
    const base = { tags: [], tagsAny: [], hosts: [], channel: null, all: false };
    expect(selectorSummary({ ...base, all: true, channel: 'x' })).toBe('all');
    expect(selectorSummary({ ...base, channel: 'edge', tags: ['a'] })).toBe('channel:edge');
    expect(selectorSummary({ ...base, tags: ['b', 'a'] })).toBe('tags:a,b');
    expect(selectorSummary({ ...base, tagsAny: ['z', 'y'] })).toBe('tags_any:y,z');
    expect(selectorSummary({ ...base, hosts: ['h2', 'h1'] })).toBe('hosts:h1,h2');
    expect(selectorSummary(base)).toBe('unknown');
  });
});

describe('verifyRolloutManifest', () => {
  const key = ed25519Key();
  const trust = slot({ current: key.pub });
  const options = {
    trust,
    now: NOW,
    freshnessWindowSeconds: 3600,
    rolloutId: 'stable@abc123',
    fleetResolvedHash: FLEET_HASH,
  };

  function code(r: ReturnType<typeof verifyRolloutManifest>): VerifyRefusalCode | 'ok' {
    return r.ok ? 'ok' : r.reason.code;
  }

  it('a manifest matching the requested id and the verified fleet verifies', () => {
    const r = verifyRolloutManifest(signed(stableManifest(), key), options);
    expect(r.ok && r.value.inner.hostSet.length).toBe(2);
  });

  it('requested id whose channel differs → rollout-id-mismatch', () => {
    expect(
      code(verifyRolloutManifest(signed(stableManifest(), key), { ...options, rolloutId: 'edge@abc123' })),
    ).toBe('rollout-id-mismatch');
  });

  it('requested id whose ref differs, or a legacy 64-hex id → rollout-id-mismatch', () => {
    const artifact = signed(stableManifest(), key);
    expect(code(verifyRolloutManifest(artifact, { ...options, rolloutId: 'stable@abc124' }))).toBe(
      'rollout-id-mismatch',
    );
    expect(code(verifyRolloutManifest(artifact, { ...options, rolloutId: 'f'.repeat(64) }))).toBe(
      'rollout-id-mismatch',
    );
  });

  it('a manifest bound to another fleet → fleet-hash-mismatch; without a fleet hash it is not checked', () => {
    const artifact = signed({ ...stableManifest(), fleetResolvedHash: 'a'.repeat(64) }, key);
    const r = verifyRolloutManifest(artifact, options);
    expect(r.ok ? 'ok' : r.reason).toMatchObject({
      code: 'fleet-hash-mismatch',
      detail: expect.stringContaining(FLEET_HASH),
    });
    expect(code(verifyRolloutManifest(artifact, { ...options, fleetResolvedHash: null }))).toBe('ok');
  });

  it('the id check runs after signature and freshness: a stale manifest under a wrong id says stale', () => {
    const stale = signed(stableManifest({ signedAt: at(-7200), ciCommit: 'abc123' }), key);
    expect(code(verifyRolloutManifest(stale, { ...options, rolloutId: 'edge@abc123' }))).toBe('stale');
  });

  it.each([
    ['tampered signature', 'untrusted-signature'],
    ['stale', 'stale'],
    ['unsigned', 'not-signed'],
    ['malformed JSON', 'parse'],
    ['empty trust roots', 'no-trust-roots'],
    ['rejectBefore after signedAt', 'rejected-before-timestamp'],
  ] as const)('%s → %s', (kind, expected) => {
    let artifact = signed(stableManifest(), key);
    let opts: Parameters<typeof verifyRolloutManifest>[1] = options;
    if (kind === 'tampered signature') {
      const sig = Buffer.from(artifact.signature);
      sig[0] = (sig[0] ?? 0) ^ 0xff;
      artifact = { ...artifact, signature: new Uint8Array(sig) };
    } else if (kind === 'stale')
      artifact = signed(stableManifest({ signedAt: at(-3661), ciCommit: 'abc123' }), key);
    else if (kind === 'unsigned') artifact = signed(stableManifest({ ciCommit: 'abc123' }), key);
    else if (kind === 'malformed JSON') {
      const bytes = new Uint8Array(Buffer.from('{"schemaVersion":'));
      artifact = { bytes, signature: key.sign(bytes) };
    } else if (kind === 'empty trust roots') opts = { ...options, trust: slot({}) };
    else opts = { ...options, trust: slot({ current: key.pub, rejectBefore: at(1) }) };
    expect(code(verifyRolloutManifest(artifact, opts))).toBe(expected);
  });

  it("uses the manifest's channel window when given as a function (spec §10.2 P5)", () => {
    const twoHoursOld = signed(stableManifest({ signedAt: at(-7200), ciCommit: 'abc123' }), key);
    const windows: Record<string, number> = { stable: 3 * 3600, edge: 60 };
    const perChannel = {
      ...options,
      freshnessWindowSeconds: (m: RolloutManifest) => windows[m.channel] ?? 0,
    };
    expect(code(verifyRolloutManifest(twoHoursOld, perChannel))).toBe('ok');
    windows.stable = 3600;
    expect(code(verifyRolloutManifest(twoHoursOld, perChannel))).toBe('stale');
  });
});
