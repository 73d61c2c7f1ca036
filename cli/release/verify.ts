// `nixfleet release verify DIR --trust-file trust.json` (contract §1): every artifact of a release
// directory through the same verifier the CP and agents use (spec §1.11), one line per artifact,
// exit 0 only when all pass. Beyond the per-file checks it binds the directory together: each
// manifest must be the one its file name claims and belong to this directory's fleet (§1.8, P13).
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { timestampSchema } from '../../proto/common.ts';
import { parseDuration } from '../../proto/duration.ts';
import type { FleetResolved } from '../../proto/fleet/fleetResolved.ts';
import { rolloutIdForChannel } from '../../proto/fleet/projectManifests.ts';
import { isPathSafeRolloutId } from '../../proto/fleet/rolloutId.ts';
import { trustFileSchema } from '../../proto/trust/trustFile.ts';
import {
  channelFreshnessWindowSeconds,
  DEFAULT_FRESHNESS_WINDOW_SECONDS,
  fleetFreshnessWindowSeconds,
  type SignedArtifact,
  type Verified,
  type VerifyResult,
  verifyBootstrapNonces,
  verifyFleet,
  verifyRevocations,
  verifyRolloutManifest,
} from '../../proto/trust/verify.ts';
import { type CliIo, EXIT_FAILED, EXIT_OK, parseOptions, readJsonArg, report, usage } from './cliIo.ts';

const verifyOptionsSchema = z.object({
  trustFile: z.string().min(1, 'is empty'),
  now: timestampSchema.optional(),
  freshnessWindow: z
    .string()
    .transform((v, ctx) => {
      const d = parseDuration(v);
      if (d.ok) return Math.floor(d.ms / 1000);
      ctx.addIssue({ code: 'custom', message: d.error.message });
      return z.NEVER;
    })
    .optional(),
});

type Outcome =
  | { file: string; ok: true; note: string }
  | { file: string; ok: false; code: string; detail: string };

async function readArtifact(dir: string, file: string): Promise<SignedArtifact | Outcome> {
  const read = async (name: string) => readFile(join(dir, name)).catch(() => null);
  const bytes = await read(file);
  if (bytes === null) return { file, ok: false, code: 'missing', detail: 'file is missing or unreadable' };
  const signature = await read(`${file}.sig`);
  if (signature === null) {
    return { file, ok: false, code: 'missing-signature', detail: `${file}.sig is missing or unreadable` };
  }
  return { bytes: new Uint8Array(bytes), signature: new Uint8Array(signature) };
}

function outcome<T>(file: string, r: VerifyResult<T>, note: (v: Verified<T>) => string): Outcome {
  return r.ok ? { file, ok: true, note: note(r.value) } : { file, ok: false, ...r.reason };
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

export async function releaseVerify(
  dir: string,
  rawOptions: unknown,
  io: CliIo,
  clock: () => Date = () => new Date(),
): Promise<number> {
  const opts = parseOptions('release verify', verifyOptionsSchema, rawOptions);
  if (!opts.ok) return report(io, opts.failure);
  const isDir = await stat(dir).then(
    (s) => s.isDirectory(),
    () => false,
  );
  if (!isDir) return report(io, usage(`nixfleet release verify: ${dir}: not a directory`));
  const trust = await readJsonArg('--trust-file', opts.value.trustFile, trustFileSchema);
  if (!trust.ok) return report(io, trust.failure);
  const now = opts.value.now === undefined ? clock() : new Date(opts.value.now);
  const override = opts.value.freshnessWindow;
  const base = { trust: trust.value.ciReleaseKey, now };
  const outcomes: Outcome[] = [];

  // The fleet first: its hash binds the manifests, its channels give their windows (P5).
  let fleet: Verified<FleetResolved> | null = null;
  const fleetFile = 'fleet.resolved.json';
  const fleetArtifact = await readArtifact(dir, fleetFile);
  if ('file' in fleetArtifact) outcomes.push(fleetArtifact);
  else {
    const r = verifyFleet(
      fleetArtifact,
      override === undefined ? base : { ...base, freshnessWindowSeconds: override },
    );
    if (r.ok) fleet = r.value;
    outcomes.push(
      outcome(fleetFile, r, (v) => `signedAt ${v.signedAt}, ${Object.keys(v.inner.hosts).length} host(s)`),
    );
  }
  const fleetWindow =
    override ??
    (fleet === null ? DEFAULT_FRESHNESS_WINDOW_SECONDS : fleetFreshnessWindowSeconds(fleet.inner));

  const rolloutsDir = join(dir, 'rollouts');
  const names = (await exists(rolloutsDir))
    ? (await readdir(rolloutsDir)).filter((n) => n.endsWith('.json'))
    : [];
  for (const name of names.sort()) {
    const file = join('rollouts', name);
    const rolloutId = name.slice(0, -'.json'.length);
    if (!isPathSafeRolloutId(rolloutId)) {
      outcomes.push({
        file,
        ok: false,
        code: 'rollout-id-mismatch',
        detail: 'file name is not <channel>@<ref>.json',
      });
      continue;
    }
    const artifact = await readArtifact(dir, file);
    if ('file' in artifact) {
      outcomes.push(artifact);
      continue;
    }
    const verifiedFleet = fleet;
    const r = verifyRolloutManifest(artifact, {
      ...base,
      rolloutId,
      fleetResolvedHash: verifiedFleet?.sha256 ?? null,
      // The manifest's own channel window (spec §10.2 P5), once the signature says which it is.
      freshnessWindowSeconds:
        override ??
        ((m) =>
          (verifiedFleet === null ? null : channelFreshnessWindowSeconds(verifiedFleet.inner, m.channel)) ??
          fleetWindow),
    });
    outcomes.push(
      outcome(
        file,
        r,
        (v) => `${v.inner.hostSet.length} host(s), fleet ${v.inner.fleetResolvedHash.slice(0, 12)}…`,
      ),
    );
  }
  if (fleet === null) {
    outcomes.push({
      file: 'rollouts/',
      ok: false,
      code: 'fleet-hash-mismatch',
      detail: 'manifests cannot be bound to a fleet: fleet.resolved.json did not verify',
    });
  } else {
    // A channel with buildable hosts and no manifest would leave its hosts without a rollout.
    for (const channel of Object.keys(fleet.inner.channels).sort()) {
      const id = rolloutIdForChannel(fleet.inner, channel);
      if (id !== null && !names.includes(`${id}.json`)) {
        outcomes.push({
          file: join('rollouts', `${id}.json`),
          ok: false,
          code: 'missing',
          detail: `channel ${channel} has no manifest`,
        });
      }
    }
  }

  // Optional CI-signed side artifacts (spec §1.14), verified when present.
  const sideArtifacts = {
    'revocations.json': (a: SignedArtifact) =>
      outcome(
        'revocations.json',
        verifyRevocations(a, { ...base, freshnessWindowSeconds: fleetWindow }),
        (v) => {
          return `signedAt ${v.signedAt}, ${v.inner.revocations.length} revocation(s)`;
        },
      ),
    'bootstrap-nonces.json': (a: SignedArtifact) =>
      outcome(
        'bootstrap-nonces.json',
        verifyBootstrapNonces(a, { ...base, freshnessWindowSeconds: fleetWindow }),
        (v) => {
          return `signedAt ${v.signedAt}, ${v.inner.bootstrapNonces.length} nonce(s)`;
        },
      ),
  };
  for (const [file, check] of Object.entries(sideArtifacts)) {
    if (!(await exists(join(dir, file)))) continue;
    const artifact = await readArtifact(dir, file);
    outcomes.push('file' in artifact ? artifact : check(artifact));
  }

  for (const o of outcomes) {
    io.out(o.ok ? `OK   ${o.file}: ${o.note}` : `FAIL ${o.file}: ${o.code}: ${o.detail}`);
  }
  const failed = outcomes.filter((o) => !o.ok);
  if (failed.length === 0) return EXIT_OK;
  io.err(`nixfleet release verify: ${failed.length} of ${outcomes.length} check(s) failed in ${dir}`);
  return EXIT_FAILED;
}
