// `nixfleet release build` (contract §1, §3; spec §1.1 steps 2-3, §1.17): fleet.json → validated,
// resolved fleet → RFC 8785 bytes + ed25519 signature, then one signed rollout manifest per channel
// bound to those exact bytes by `fleetResolvedHash`.
import { spawnSync } from 'node:child_process';
import { mkdir, readdir, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { z } from 'zod';
import { parseJson, sha256Hex } from '../../proto/canonicalJson.ts';
import { timestampSchema } from '../../proto/common.ts';
import { fleetResolvedSchema } from '../../proto/fleet/fleetResolved.ts';
import { mkFleetFromJson } from '../../proto/fleet/mkFleet.ts';
import { projectRolloutManifests } from '../../proto/fleet/projectManifests.ts';
import { isPathSafeRolloutId, rolloutIdOf } from '../../proto/fleet/rolloutId.ts';
import { parseEd25519PrivateKeyPem, signJson } from '../../proto/trust/signature.ts';
import { type CliIo, EXIT_FAILED, EXIT_OK, parseOptions, readArgFile, report, usage } from './cliIo.ts';
import { writeFileAtomic } from './files.ts';

export const FLEET_FILE = 'fleet.resolved.json';
export const ROLLOUTS_DIR = 'rollouts';

const buildOptionsSchema = z.object({
  fleet: z.string().min(1, 'is empty'),
  out: z.string().min(1, 'is empty'),
  signKey: z.string().min(1, 'is empty'),
  // The ref becomes part of every rollout id; the CP's routes accept only lowercase hex (spec §1.8).
  ciCommit: z
    .string()
    .regex(/^[0-9a-f]{7,64}$/, 'expected a lowercase hex commit id (7 to 64 characters)')
    .optional(),
  signedAt: timestampSchema.optional(),
});

/** HEAD of the git checkout holding the fleet file, as the original's release tool stamps it. */
function gitHead(dir: string): string | null {
  const r = spawnSync('git', ['-C', dir, 'rev-parse', 'HEAD'], { encoding: 'utf8', timeout: 10_000 });
  const sha = r.status === 0 ? r.stdout.trim() : '';
  return /^[0-9a-f]{40,64}$/.test(sha) ? sha : null;
}

export async function releaseBuild(
  rawOptions: unknown,
  io: CliIo,
  clock: () => Date = () => new Date(),
): Promise<number> {
  const opts = parseOptions('release build', buildOptionsSchema, rawOptions);
  if (!opts.ok) return report(io, opts.failure);
  const { fleet: fleetPath, out, signKey } = opts.value;

  const ciCommit = opts.value.ciCommit ?? gitHead(dirname(fleetPath));
  if (ciCommit === null) {
    return report(
      io,
      usage(
        `nixfleet release build: --ci-commit: not given, and ${dirname(fleetPath)} is not a git checkout to take HEAD from`,
      ),
    );
  }
  // Normalised so that `+02:00` and `Z` spellings of one instant sign identical bytes.
  const signedAt = new Date(opts.value.signedAt ?? clock().toISOString()).toISOString();

  const keyBytes = await readArgFile('--sign-key', signKey);
  if (!keyBytes.ok) return report(io, keyBytes.failure);
  const key = parseEd25519PrivateKeyPem(keyBytes.value.toString('utf8'));
  if (key === null) {
    return report(
      io,
      usage(
        `--sign-key ${signKey}: not an ed25519 private key in PKCS#8 PEM (make one with \`nixfleet release keygen\`)`,
      ),
    );
  }

  const fleetBytes = await readArgFile('--fleet', fleetPath);
  if (!fleetBytes.ok) return report(io, fleetBytes.failure);
  const json = parseJson(fleetBytes.value);
  if (!json.ok) return report(io, usage(`--fleet ${fleetPath}: not valid JSON: ${json.detail}`));
  const resolved = mkFleetFromJson(json.value, { signedAt, ciCommit });
  for (const w of resolved.warnings) io.err(`warning: ${fleetPath}: ${w.path}: ${w.message}`);
  if (!resolved.ok) {
    return report(
      io,
      usage(
        `--fleet ${fleetPath}: ${resolved.errors.length} invariant violation(s):`,
        ...resolved.errors.map((e) => `  ${e.path}: ${e.message}`),
      ),
    );
  }

  const fleet = signJson(resolved.fleet, key);
  const fleetResolvedHash = sha256Hex(fleet.bytes);
  // Project from the bytes as a consumer reads them, so the manifests are what the CP and agents
  // would compute themselves (spec §1.7 "the same pure projection function").
  const readBack = fleetResolvedSchema.safeParse(JSON.parse(Buffer.from(fleet.bytes).toString('utf8')));
  if (!readBack.success) throw new Error(`resolved fleet does not read back: ${readBack.error.message}`);
  const projected = projectRolloutManifests(readBack.data, fleetResolvedHash);
  if (!projected.ok) throw new Error(projected.detail);

  const rolloutsDir = join(out, ROLLOUTS_DIR);
  try {
    await mkdir(rolloutsDir, { recursive: true });
  } catch (err) {
    return report(io, usage(`--out ${out}: ${err instanceof Error ? err.message : String(err)}`));
  }
  const written = new Set<string>();
  // Manifests first, fleet last: a poller that sees the new fleet finds its manifests in place.
  for (const manifest of projected.manifests) {
    const id = rolloutIdOf(manifest.channel, manifest.channelRef);
    if (!isPathSafeRolloutId(id)) {
      io.err(`nixfleet release build: rollout id ${JSON.stringify(id)} cannot name a file`);
      return EXIT_FAILED;
    }
    const signed = signJson(manifest, key);
    await writeFileAtomic(join(rolloutsDir, `${id}.json`), signed.bytes);
    await writeFileAtomic(join(rolloutsDir, `${id}.json.sig`), signed.signature);
    written.add(`${id}.json`).add(`${id}.json.sig`);
    io.out(`wrote ${join(ROLLOUTS_DIR, `${id}.json`)} (${manifest.hostSet.length} host(s)) + .sig`);
  }
  // Manifests of earlier releases are bound to an earlier fleet and would fail verification.
  for (const name of await readdir(rolloutsDir)) {
    if ((name.endsWith('.json') || name.endsWith('.json.sig')) && !written.has(name)) {
      await rm(join(rolloutsDir, name), { force: true });
      io.out(`removed stale ${join(ROLLOUTS_DIR, name)}`);
    }
  }
  await writeFileAtomic(join(out, FLEET_FILE), fleet.bytes);
  await writeFileAtomic(join(out, `${FLEET_FILE}.sig`), fleet.signature);
  io.out(
    `wrote ${FLEET_FILE} (sha256 ${fleetResolvedHash}, signedAt ${signedAt}, ciCommit ${ciCommit}) + .sig`,
  );
  return EXIT_OK;
}
