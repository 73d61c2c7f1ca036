// The CP's release source (spec §7.10, contract §3): polls `--release-dir`, verifies the whole set —
// `fleet.resolved.json` and every `rollouts/<id>.json` — against `--trust-file` (re-read on every
// poll so key rotations apply without a restart), and publishes it only when every artifact passes.
// A refused set never replaces the last good one (spec §7.10 step 2); the refusal is kept so that
// `/readyz`, the logs and a metric can say why. Beyond the original: each manifest must be bound to
// the fleet verified in the same poll (§10.2 P13), and the artifact routes serve only these
// verified bytes (§10.2 P15).
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Clock } from '../../actors/index.ts';
import {
  channelFreshnessWindowSeconds,
  type FleetResolved,
  fleetFreshnessWindowSeconds,
  isPathSafeRolloutId,
  parseJson,
  type RolloutManifest,
  rolloutIdForChannel,
  type SignedArtifact,
  type TrustFile,
  trustFileSchema,
  type Verified,
  verifyFleet,
  verifyRolloutManifest,
} from '../../proto/index.ts';

export const FLEET_FILE = 'fleet.resolved.json';
export const ROLLOUTS_DIR = 'rollouts';

/** One verified artifact: the bytes exactly as read (what the routes serve) and its signature. */
export interface ServedArtifact<T> {
  readonly verified: Verified<T>;
  readonly bytes: Uint8Array;
  readonly signature: Uint8Array;
}

/** A release that passed verification as a whole. */
export interface VerifiedRelease {
  readonly fleet: ServedArtifact<FleetResolved>;
  /** By rollout id (the file name without `.json`). */
  readonly manifests: ReadonlyMap<string, ServedArtifact<RolloutManifest>>;
  /** When this set was first accepted (CP clock). */
  readonly loadedAt: Date;
  /** Changes whenever any artifact changes: tells a new set from a re-read of the same one. */
  readonly fingerprint: string;
}

/**
 * A verifier code (`untrusted-signature`, `stale`, `fleet-hash-mismatch`, … spec §1.11) or one of
 * the directory's own: `trust-file`, `missing`, `missing-signature`, `unreadable`,
 * `rollout-file-name`, `missing-manifest`.
 */
export type ReleaseRefusalCode = string;

/** Why the latest poll did not publish; exposed on `/readyz` and `nixfleet_release_refusals_total`. */
export interface ReleaseRefusal {
  readonly code: ReleaseRefusalCode;
  /** The artifact at fault, relative to the release dir (or the trust file path). */
  readonly file: string;
  readonly detail: string;
  readonly at: Date;
}

export type PollOutcome =
  | { kind: 'published'; release: VerifiedRelease }
  | { kind: 'unchanged'; release: VerifiedRelease }
  | { kind: 'refused'; refusal: ReleaseRefusal };

export interface ReleaseSourceOptions {
  releaseDir: string;
  trustFile: string;
  clock: Clock;
  /** Called with every new verified set (not with re-reads of the same one). */
  onPublished?: (release: VerifiedRelease) => void;
  /** Called on every refused poll. */
  onRefused?: (refusal: ReleaseRefusal) => void;
}

export interface ReleaseSource {
  /** The last good verified set, or undefined before the first one. */
  current(): VerifiedRelease | undefined;
  /** The trust file as last read successfully (enrollment's org root keys read it too). */
  trust(): TrustFile | undefined;
  /** The latest poll's refusal, cleared by the next successful poll. */
  lastRefusal(): ReleaseRefusal | undefined;
  /** One poll now. Never throws: failures are refusals. */
  poll(): Promise<PollOutcome>;
  /** Polls every `intervalMs` until `stop()`; the first after one interval (call `poll()` for one now). */
  start(intervalMs: number): void;
  stop(): Promise<void>;
}

type Read<T> = { ok: true; value: T } | { ok: false; code: string; file: string; detail: string };

function errnoDetail(err: unknown): { code: string; detail: string } {
  const code = (err as { code?: unknown }).code;
  if (code === 'ENOENT') return { code: 'missing', detail: 'no such file' };
  return { code: 'unreadable', detail: err instanceof Error ? err.message : String(err) };
}

async function readArtifact(dir: string, file: string): Promise<Read<SignedArtifact>> {
  let bytes: Buffer;
  try {
    bytes = await readFile(join(dir, file));
  } catch (err) {
    return { ok: false, file, ...errnoDetail(err) };
  }
  let signature: Buffer;
  try {
    signature = await readFile(join(dir, `${file}.sig`));
  } catch (err) {
    const e = errnoDetail(err);
    return {
      ok: false,
      file: `${file}.sig`,
      code: e.code === 'missing' ? 'missing-signature' : e.code,
      detail: e.detail,
    };
  }
  return { ok: true, value: { bytes: new Uint8Array(bytes), signature: new Uint8Array(signature) } };
}

async function readTrust(path: string): Promise<Read<TrustFile>> {
  let text: Buffer;
  try {
    text = await readFile(path);
  } catch (err) {
    return { ok: false, code: 'trust-file', file: path, detail: errnoDetail(err).detail };
  }
  const json = parseJson(new Uint8Array(text));
  if (!json.ok) return { ok: false, code: 'trust-file', file: path, detail: `not JSON: ${json.detail}` };
  const parsed = trustFileSchema.safeParse(json.value);
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    return {
      ok: false,
      code: 'trust-file',
      file: path,
      detail: `not a trust file: ${first?.path.join('.') ?? ''}: ${first?.message ?? 'invalid'}`,
    };
  }
  return { ok: true, value: parsed.data };
}

/** Reads and verifies the whole release directory at `now`; pure apart from the reads. */
export async function verifyReleaseDir(
  releaseDir: string,
  trust: TrustFile,
  now: Date,
): Promise<Read<Omit<VerifiedRelease, 'loadedAt'>>> {
  const base = { trust: trust.ciReleaseKey, now };
  const fleetRead = await readArtifact(releaseDir, FLEET_FILE);
  if (!fleetRead.ok) return fleetRead;
  const fleetResult = verifyFleet(fleetRead.value, base);
  if (!fleetResult.ok) return { ok: false, file: FLEET_FILE, ...fleetResult.reason };
  const fleet = fleetResult.value;

  let names: string[];
  try {
    names = (await readdir(join(releaseDir, ROLLOUTS_DIR))).filter((n) => n.endsWith('.json')).sort();
  } catch (err) {
    const e = errnoDetail(err);
    // No rollouts directory at all reads as "no manifests"; the channel check below decides.
    if (e.code !== 'missing') return { ok: false, file: `${ROLLOUTS_DIR}/`, ...e };
    names = [];
  }

  const manifests = new Map<string, ServedArtifact<RolloutManifest>>();
  for (const name of names) {
    const file = `${ROLLOUTS_DIR}/${name}`;
    const rolloutId = name.slice(0, -'.json'.length);
    if (!isPathSafeRolloutId(rolloutId)) {
      return { ok: false, file, code: 'rollout-file-name', detail: 'file name is not <channel>@<ref>.json' };
    }
    const read = await readArtifact(releaseDir, file);
    if (!read.ok) return read;
    const fleetWindow = fleetFreshnessWindowSeconds(fleet.inner);
    const r = verifyRolloutManifest(read.value, {
      ...base,
      rolloutId,
      // P13: a manifest from another release (or a forged pairing) must not ride on this fleet.
      fleetResolvedHash: fleet.sha256,
      freshnessWindowSeconds: (m) => channelFreshnessWindowSeconds(fleet.inner, m.channel) ?? fleetWindow,
    });
    if (!r.ok) return { ok: false, file, ...r.reason };
    manifests.set(rolloutId, { verified: r.value, bytes: read.value.bytes, signature: read.value.signature });
  }

  // Every channel with a buildable host needs its manifest, or its hosts would silently get nothing.
  for (const channel of Object.keys(fleet.inner.channels).sort()) {
    const id = rolloutIdForChannel(fleet.inner, channel);
    if (id !== null && !manifests.has(id)) {
      return {
        ok: false,
        file: `${ROLLOUTS_DIR}/${id}.json`,
        code: 'missing-manifest',
        detail: `channel ${channel} has buildable hosts but no manifest ${id}.json`,
      };
    }
  }

  const fingerprint = [fleet.sha256, ...[...manifests].map(([id, m]) => `${id}=${m.verified.sha256}`)].join(
    ',',
  );
  return {
    ok: true,
    value: {
      fleet: { verified: fleet, bytes: fleetRead.value.bytes, signature: fleetRead.value.signature },
      manifests,
      fingerprint,
    },
  };
}

export function createReleaseSource(options: ReleaseSourceOptions): ReleaseSource {
  let release: VerifiedRelease | undefined;
  let trust: TrustFile | undefined;
  let refusal: ReleaseRefusal | undefined;
  let timer: unknown;
  let inFlight: Promise<PollOutcome> | undefined;
  let stopped = false;

  const refuse = (r: { code: string; file: string; detail: string }): PollOutcome => {
    refusal = { code: r.code, file: r.file, detail: r.detail, at: options.clock.now() };
    options.onRefused?.(refusal);
    return { kind: 'refused', refusal };
  };

  const pollOnce = async (): Promise<PollOutcome> => {
    const t = await readTrust(options.trustFile);
    if (!t.ok) return refuse(t);
    trust = t.value;
    const now = options.clock.now();
    const r = await verifyReleaseDir(options.releaseDir, t.value, now);
    if (!r.ok) return refuse(r);
    refusal = undefined;
    if (release !== undefined && release.fingerprint === r.value.fingerprint) {
      return { kind: 'unchanged', release };
    }
    release = Object.freeze({ ...r.value, loadedAt: now });
    options.onPublished?.(release);
    return { kind: 'published', release };
  };

  const poll = (): Promise<PollOutcome> => {
    // Concurrent callers (the ticker and a test, say) share one read of the directory.
    inFlight ??= pollOnce()
      .catch((err: unknown) =>
        refuse({ code: 'unreadable', file: '.', detail: err instanceof Error ? err.message : String(err) }),
      )
      .finally(() => {
        inFlight = undefined;
      });
    return inFlight;
  };

  const schedule = (intervalMs: number) => {
    if (stopped) return;
    timer = options.clock.setTimeout(() => {
      void poll().finally(() => schedule(intervalMs));
    }, intervalMs);
  };

  return {
    current: () => release,
    trust: () => trust,
    lastRefusal: () => refusal,
    poll,
    start(intervalMs) {
      stopped = false;
      schedule(intervalMs);
    },
    async stop() {
      stopped = true;
      if (timer !== undefined) options.clock.clearTimeout(timer);
      await inFlight;
    },
  };
}
