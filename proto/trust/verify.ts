// Verification of CI-signed artifacts (spec §1.10-1.11). The steps run in the spec's exact order
// because their precedence is observable (a stale artifact signed before `rejectBefore` must say
// `rejected-before-timestamp`), and every refusal is a value with a code, never an exception. Time
// is a parameter: callers pass their injected clock's `now`.
import type { z } from 'zod';
import { canonicalJsonBytes, parseJson, sha256Hex } from '../canonicalJson.ts';
import { type FleetResolved, fleetResolvedSchema } from '../fleet/fleetResolved.ts';
import { normalizePolicies } from '../fleet/projectManifests.ts';
import { rolloutIdOf } from '../fleet/rolloutId.ts';
import { type RolloutManifest, rolloutManifestSchema } from '../fleet/rolloutManifest.ts';
import { issuesFromZod } from '../fleet/zodIssues.ts';
import {
  type BootstrapNonces,
  bootstrapNoncesSchema,
  type Revocations,
  revocationsSchema,
} from './revocations.ts';
import { checkSignature } from './signature.ts';
import { activeKeysAt, type KeySlot } from './trustFile.ts';

/** Clock-skew slack applied both ways around the freshness window (spec §1.12). */
export const CLOCK_SKEW_SECONDS = 60;
/** Freshness window when a fleet declares no channel: the NixOS module's default (spec §1.12). */
export const DEFAULT_FRESHNESS_WINDOW_SECONDS = 1440 * 60;

export type VerifyRefusalCode =
  | 'no-trust-roots'
  | 'parse'
  | 'canonicalize'
  | 'unsupported-algorithm'
  | 'untrusted-signature'
  | 'schema-version-unsupported'
  | 'not-signed'
  | 'rejected-before-timestamp'
  | 'stale'
  | 'future-dated'
  | 'rollout-id-mismatch'
  | 'fleet-hash-mismatch';

export interface VerifyRefusal {
  readonly code: VerifyRefusalCode;
  /** What was wrong, in words an operator can act on. */
  readonly detail: string;
}

declare const verifiedBrand: unique symbol;

/**
 * An artifact that passed every check (spec §1.10). Only the functions of this module produce one;
 * consumers take `Verified<T>` so that unverified data cannot reach them by accident.
 */
export interface Verified<T> {
  readonly inner: T;
  /** `meta.signedAt` as signed. */
  readonly signedAt: string;
  /** RFC 8785 bytes of what was received; the signature covers exactly these. */
  readonly canonicalBytes: Uint8Array;
  /** Lowercase hex SHA-256 of `canonicalBytes` (for a fleet: every manifest's `fleetResolvedHash`). */
  readonly sha256: string;
  readonly [verifiedBrand]: true;
}

export type VerifyResult<T> = { ok: true; value: Verified<T> } | { ok: false; reason: VerifyRefusal };

export interface SignedArtifact {
  /** The artifact file as received. */
  readonly bytes: Uint8Array;
  /** The `.sig` file: 64 raw bytes. */
  readonly signature: Uint8Array;
}

/** Shape every signed artifact shares. */
export interface VersionedArtifact {
  readonly schemaVersion: number;
  readonly meta: { readonly signedAt: string | null };
}

export interface VerifyOptions<T> {
  /** The `ciReleaseKey` slot of trust.json, read fresh by the caller. */
  readonly trust: KeySlot;
  readonly now: Date;
  /** Maximum age in seconds, or a function of the (signature-checked) artifact (spec §10.2 P5). */
  readonly freshnessWindowSeconds: number | ((artifact: T) => number);
}

function refuse(code: VerifyRefusalCode, detail: string): { ok: false; reason: VerifyRefusal } {
  return { ok: false, reason: { code, detail } };
}

/** The generic verification of spec §1.11, steps 1-9, for any artifact schema. */
export function verifyArtifact<T extends VersionedArtifact>(
  schema: z.ZodType<T>,
  artifact: SignedArtifact,
  options: VerifyOptions<T>,
): VerifyResult<T> {
  // 1. Trust roots.
  const keys = activeKeysAt(options.trust, options.now);
  if (keys.length === 0) return refuse('no-trust-roots', 'trust.json has no active ciReleaseKey');
  // 2. Parse.
  const parsed = parseJson(artifact.bytes);
  if (!parsed.ok) return refuse('parse', `not JSON: ${parsed.detail}`);
  // 3. Canonicalize the received value, never a re-serialisation of the typed view (spec §1.3).
  let canonicalBytes: Uint8Array;
  try {
    canonicalBytes = canonicalJsonBytes(parsed.value);
  } catch (err) {
    return refuse('canonicalize', err instanceof Error ? err.message : String(err));
  }
  // 4. Signature against every active key in order.
  const sig = checkSignature(canonicalBytes, artifact.signature, keys);
  if (!sig.ok) return refuse(sig.code, sig.detail);
  // 5. Typed view, then the schema version.
  const typed = schema.safeParse(parsed.value);
  if (!typed.success) {
    const first = issuesFromZod(typed.error)[0];
    return refuse('parse', `does not match the artifact schema: ${first?.path}: ${first?.message}`);
  }
  const inner = typed.data;
  if (inner.schemaVersion !== 1) {
    return refuse(
      'schema-version-unsupported',
      `schemaVersion ${inner.schemaVersion} is not supported (expected 1)`,
    );
  }
  // 6. Signed at all.
  const signedAt = inner.meta.signedAt;
  if (signedAt === null) return refuse('not-signed', 'meta.signedAt is missing');
  const signedMs = Date.parse(signedAt);
  const nowMs = options.now.getTime();
  // 7. rejectBefore before freshness: a compromise cut-off must name itself even on stale artifacts.
  const rejectBefore = options.trust.rejectBefore;
  if (rejectBefore !== null && signedMs < Date.parse(rejectBefore)) {
    return refuse(
      'rejected-before-timestamp',
      `signed at ${signedAt}, before the trust cut-off ${rejectBefore}`,
    );
  }
  // 8. Stale: strictly older than window + skew.
  const windowSeconds =
    typeof options.freshnessWindowSeconds === 'function'
      ? options.freshnessWindowSeconds(inner)
      : options.freshnessWindowSeconds;
  const ageMs = nowMs - signedMs;
  if (ageMs > (windowSeconds + CLOCK_SKEW_SECONDS) * 1000) {
    return refuse(
      'stale',
      `signed at ${signedAt}, ${Math.floor(ageMs / 1000)} s before ${options.now.toISOString()}; ` +
        `the window is ${windowSeconds} s + ${CLOCK_SKEW_SECONDS} s skew (re-sign the release)`,
    );
  }
  // 9. Future-dated beyond the skew.
  if (signedMs - nowMs > CLOCK_SKEW_SECONDS * 1000) {
    return refuse(
      'future-dated',
      `signed at ${signedAt}, ${Math.ceil((signedMs - nowMs) / 1000)} s after ${options.now.toISOString()} ` +
        `(more than the ${CLOCK_SKEW_SECONDS} s skew; check the signer's and this host's clocks)`,
    );
  }
  const value = { inner, signedAt, canonicalBytes, sha256: sha256Hex(canonicalBytes) } as Verified<T>;
  return { ok: true, value };
}

/** The largest channel window of a fleet, in seconds: the fleet artifact serves every channel. */
export function fleetFreshnessWindowSeconds(fleet: FleetResolved): number {
  const windows = Object.values(fleet.channels).map((c) => c.freshnessWindow * 60);
  return windows.length === 0 ? DEFAULT_FRESHNESS_WINDOW_SECONDS : Math.max(...windows);
}

/** A channel's own window in seconds (spec §10.2 P5), `null` when the fleet lacks the channel. */
export function channelFreshnessWindowSeconds(fleet: FleetResolved, channel: string): number | null {
  const c = fleet.channels[channel];
  return c === undefined ? null : c.freshnessWindow * 60;
}

export interface VerifyFleetOptions {
  readonly trust: KeySlot;
  readonly now: Date;
  /** Defaults to the fleet's largest channel window (checked only after the signature is). */
  readonly freshnessWindowSeconds?: number;
}

/** Verifies `fleet.resolved.json`; the result has its policies normalized (spec §1.5). */
export function verifyFleet(
  artifact: SignedArtifact,
  options: VerifyFleetOptions,
): VerifyResult<FleetResolved> {
  const r = verifyArtifact(fleetResolvedSchema, artifact, {
    trust: options.trust,
    now: options.now,
    freshnessWindowSeconds: options.freshnessWindowSeconds ?? fleetFreshnessWindowSeconds,
  });
  if (!r.ok) return r;
  return { ok: true, value: { ...r.value, inner: normalizePolicies(r.value.inner) } };
}

export interface VerifyRolloutManifestOptions {
  readonly trust: KeySlot;
  readonly now: Date;
  /** Seconds; or, to use the manifest's channel window (spec §10.2 P5), a function of the manifest. */
  readonly freshnessWindowSeconds: number | ((manifest: RolloutManifest) => number);
  /** The id the manifest was fetched under: it must be `<manifest.channel>@<manifest.channelRef>`. */
  readonly rolloutId: string;
  /** SHA-256 of the verified fleet, when the caller has one (agents always; the CP too, §10.2 P13). */
  readonly fleetResolvedHash?: string | null;
}

/** Verifies a rollout manifest, then its discriminator and its binding to the fleet (spec §1.8). */
export function verifyRolloutManifest(
  artifact: SignedArtifact,
  options: VerifyRolloutManifestOptions,
): VerifyResult<RolloutManifest> {
  const r = verifyArtifact(rolloutManifestSchema, artifact, options);
  if (!r.ok) return r;
  const m = r.value.inner;
  const actual = rolloutIdOf(m.channel, m.channelRef);
  if (actual !== options.rolloutId) {
    // A validly signed manifest served under another rollout's name (spec §1.8 discriminator).
    return refuse('rollout-id-mismatch', `manifest is for ${actual}, not the requested ${options.rolloutId}`);
  }
  const expected = options.fleetResolvedHash;
  if (expected !== undefined && expected !== null && m.fleetResolvedHash !== expected) {
    return refuse(
      'fleet-hash-mismatch',
      `manifest is bound to fleet ${m.fleetResolvedHash}, but the verified fleet is ${expected}`,
    );
  }
  return r;
}

export interface VerifySimpleOptions {
  readonly trust: KeySlot;
  readonly now: Date;
  readonly freshnessWindowSeconds: number;
}

export function verifyRevocations(
  artifact: SignedArtifact,
  options: VerifySimpleOptions,
): VerifyResult<Revocations> {
  return verifyArtifact(revocationsSchema, artifact, options);
}

export function verifyBootstrapNonces(
  artifact: SignedArtifact,
  options: VerifySimpleOptions,
): VerifyResult<BootstrapNonces> {
  return verifyArtifact(bootstrapNoncesSchema, artifact, options);
}

/**
 * Test-only escape hatch (spec §1.10 "unverified_for_tests"): wraps a value as if verified. Never
 * call it outside tests; its name is there to be grepped for.
 */
export function unverifiedForTests<T extends VersionedArtifact>(inner: T): Verified<T> {
  const canonicalBytes = canonicalJsonBytes(inner);
  return {
    inner,
    signedAt: inner.meta.signedAt ?? new Date(0).toISOString(),
    canonicalBytes,
    sha256: sha256Hex(canonicalBytes),
  } as Verified<T>;
}
