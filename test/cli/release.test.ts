// `nixfleet release keygen | build | verify` as an operator and CI run them: real processes from the
// repository root, files in a temp directory. Exit codes follow contract §1 (0 ok, 1 failed, 2 bad
// input naming the flag, file or field) and nothing ever prints a stack trace.
import { spawn } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canonicalJson, rolloutManifestSchema, sha256Hex } from '../../proto/index.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const COMMIT = '0123456789abcdef0123456789abcdef01234567';
const SIGNED_AT = '2026-04-24T10:00:00.000Z';
const STACK_FRAME = /^\s+at\s/m;

interface Run {
  args: readonly string[];
  status: number | null;
  stdout: string;
  stderr: string;
}

function nixfleet(...args: string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'cli/main.ts', ...args], {
      cwd: ROOT,
      env: { ...process.env, NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 60_000,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
    });
    child.on('error', reject);
    child.on('close', (status) => resolve({ args, status, stdout, stderr }));
  });
}

function expectClean(...runs: Run[]): void {
  for (const r of runs) {
    expect(r.stderr, `stderr of ${r.args.join(' ')}`).not.toMatch(STACK_FRAME);
    expect(r.stdout, `stdout of ${r.args.join(' ')}`).not.toMatch(STACK_FRAME);
  }
}

const store = (c: string, name: string) => `/nix/store/${c.repeat(32)}-nixos-system-${name}`;

const FLEET = {
  hosts: [
    { name: 'web-01', closure: store('a', 'web-01'), tags: ['web'], channel: 'stable' },
    { name: 'web-02', closure: store('b', 'web-02'), tags: ['web'], channel: 'stable' },
    { name: 'db-01', closure: store('c', 'db-01'), tags: ['db'], channel: 'edge' },
  ],
  channels: {
    stable: { rolloutPolicy: 'canary', freshnessWindow: 120, signingIntervalMinutes: 60 },
    edge: { rolloutPolicy: 'fast' },
  },
  rolloutPolicies: {
    canary: { waves: [{ selector: { hosts: ['web-01'] }, soakMinutes: 5 }, { selector: { tags: ['web'] } }] },
    fast: { strategy: 'all-at-once' },
  },
  channelEdges: [{ gates: 'edge', gated: 'stable' }],
};

let dir: string;
let releaseDir: string;
let trustFile: string;
let keyFile: string;

async function trustFor(publicKeyFile: string, path: string): Promise<string> {
  const pub = (await readFile(publicKeyFile, 'utf8')).trim();
  await writeFile(
    path,
    JSON.stringify({ schemaVersion: 1, ciReleaseKey: { current: { algorithm: 'ed25519', public: pub } } }),
  );
  return path;
}

async function buildRelease(out: string, fleet: unknown = FLEET, extra: string[] = []): Promise<Run> {
  const fleetFile = join(dir, `fleet-${Math.random().toString(36).slice(2)}.json`);
  await writeFile(fleetFile, typeof fleet === 'string' ? fleet : JSON.stringify(fleet, null, 2));
  return nixfleet(
    'release',
    'build',
    '--fleet',
    fleetFile,
    '--out',
    out,
    '--sign-key',
    keyFile,
    '--ci-commit',
    COMMIT,
    '--signed-at',
    SIGNED_AT,
    ...extra,
  );
}

const verifyAt = (target: string, now = '2026-04-24T10:30:00Z', trust = trustFile) =>
  nixfleet('release', 'verify', target, '--trust-file', trust, '--now', now);

async function copyRelease(name: string): Promise<string> {
  const target = join(dir, name);
  const r = await buildRelease(target);
  expect(r.status).toBe(0);
  return target;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'nixfleet-release-'));
  const keygen = await nixfleet('release', 'keygen', '--out', join(dir, 'keys'));
  expect(keygen.status, keygen.stderr).toBe(0);
  keyFile = join(dir, 'keys', 'release.key');
  trustFile = await trustFor(join(dir, 'keys', 'release.pub'), join(dir, 'trust.json'));
  releaseDir = join(dir, 'release');
  const build = await buildRelease(releaseDir);
  expect(build.status, build.stderr).toBe(0);
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('nixfleet release: keygen → build → verify', () => {
  it('keygen writes a PKCS#8 PEM private key (0600) and a base64 raw 32-byte public key', async () => {
    const pem = await readFile(keyFile, 'utf8');
    expect(pem).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
    const pub = Buffer.from((await readFile(join(dir, 'keys', 'release.pub'), 'utf8')).trim(), 'base64');
    expect(pub).toHaveLength(32);
    const { stat } = await import('node:fs/promises');
    expect((await stat(keyFile)).mode & 0o777).toBe(0o600);
  });

  it('build writes the release directory of spec §1.17: canonical JSON and raw 64-byte signatures', async () => {
    const id = `stable@${COMMIT}`;
    expect((await readdir(join(releaseDir, 'rollouts'))).sort()).toEqual([
      `edge@${COMMIT}.json`,
      `edge@${COMMIT}.json.sig`,
      `${id}.json`,
      `${id}.json.sig`,
    ]);
    const fleetBytes = await readFile(join(releaseDir, 'fleet.resolved.json'));
    expect(fleetBytes.toString('utf8')).toBe(canonicalJson(JSON.parse(fleetBytes.toString('utf8'))));
    expect(await readFile(join(releaseDir, 'fleet.resolved.json.sig'))).toHaveLength(64);
    const manifestBytes = await readFile(join(releaseDir, 'rollouts', `${id}.json`));
    expect(await readFile(join(releaseDir, 'rollouts', `${id}.json.sig`))).toHaveLength(64);
    const manifest = rolloutManifestSchema.parse(JSON.parse(manifestBytes.toString('utf8')));
    expect(manifest).toMatchObject({
      channel: 'stable',
      channelRef: COMMIT,
      displayName: 'stable@01234567',
      fleetResolvedHash: sha256Hex(fleetBytes),
      meta: { signedAt: SIGNED_AT, ciCommit: COMMIT, signatureAlgorithm: 'ed25519' },
    });
    expect(manifest.hostSet.map((h) => [h.hostname, h.waveIndex])).toEqual([
      ['web-01', 0],
      ['web-02', 1],
    ]);
  });

  it('verify passes on a fresh build: exit 0 and one OK line per artifact', async () => {
    const r = await verifyAt(releaseDir);
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(
      r.stdout
        .trim()
        .split('\n')
        .map((l) => l.split(':')[0]),
    ).toEqual([
      'OK   fleet.resolved.json',
      `OK   rollouts/edge@${COMMIT}.json`,
      `OK   rollouts/stable@${COMMIT}.json`,
    ]);
    expectClean(r);
  });

  it('a release from the same fleet, commit and time is byte-identical (deterministic)', async () => {
    const again = await copyRelease('again');
    for (const file of ['fleet.resolved.json', `rollouts/stable@${COMMIT}.json`]) {
      expect((await readFile(join(again, file))).equals(await readFile(join(releaseDir, file))), file).toBe(
        true,
      );
    }
  });

  it('a rebuild at another commit replaces the manifests of the previous one', async () => {
    const target = await copyRelease('rebuilt');
    const fleetFile = join(dir, 'fleet-rebuild.json');
    await writeFile(fleetFile, JSON.stringify(FLEET));
    const r = await nixfleet(
      'release',
      'build',
      '--fleet',
      fleetFile,
      '--out',
      target,
      '--sign-key',
      keyFile,
      '--ci-commit',
      'fedcba9876',
      '--signed-at',
      SIGNED_AT,
    );
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain(`removed stale rollouts/stable@${COMMIT}.json`);
    expect((await readdir(join(target, 'rollouts'))).filter((n) => n.endsWith('.json')).sort()).toEqual([
      'edge@fedcba9876.json',
      'stable@fedcba9876.json',
    ]);
    expect((await verifyAt(target)).status).toBe(0);
  });
});

// Each case works in its own directory, so they run side by side: every one spawns node + tsx.
describe.concurrent('nixfleet release verify: refusals exit 1 naming the file and the reason', () => {
  it('a tampered manifest byte fails that manifest only', async () => {
    const target = await copyRelease('tampered');
    const file = join(target, 'rollouts', `stable@${COMMIT}.json`);
    await writeFile(file, (await readFile(file, 'utf8')).replace('web-02', 'web-03'));
    const r = await verifyAt(target);
    expect(r.status).toBe(1);
    expect(r.stdout).toContain(`FAIL rollouts/stable@${COMMIT}.json: untrusted-signature:`);
    expect(r.stdout).toContain('OK   fleet.resolved.json');
    expect(r.stderr).toContain('1 of 3 check(s) failed');
    expectClean(r);
  });

  it('a tampered fleet fails the fleet, and its manifests can no longer be bound to it', async () => {
    const target = await copyRelease('tampered-fleet');
    const file = join(target, 'fleet.resolved.json');
    await writeFile(file, (await readFile(file, 'utf8')).replace('"web-01"', '"web-00"'));
    const r = await verifyAt(target);
    expect(r.status).toBe(1);
    expect(r.stdout).toContain('FAIL fleet.resolved.json: untrusted-signature:');
    expect(r.stdout).toContain('FAIL rollouts/: fleet-hash-mismatch:');
    expectClean(r);
  });

  it('a manifest served under another rollout id → rollout-id-mismatch', async () => {
    const target = await copyRelease('renamed');
    const from = join(target, 'rollouts', `edge@${COMMIT}`);
    await rename(`${from}.json`, join(target, 'rollouts', 'edge@abcdef.json'));
    await rename(`${from}.json.sig`, join(target, 'rollouts', 'edge@abcdef.json.sig'));
    const r = await verifyAt(target);
    expect(r.status).toBe(1);
    expect(r.stdout).toContain('FAIL rollouts/edge@abcdef.json: rollout-id-mismatch:');
    expect(r.stdout).toContain(`FAIL rollouts/edge@${COMMIT}.json: missing: channel edge has no manifest`);
  });

  it('a missing signature file → missing-signature', async () => {
    const target = await copyRelease('nosig');
    await rm(join(target, 'fleet.resolved.json.sig'));
    const r = await verifyAt(target);
    expect(r.status).toBe(1);
    expect(r.stdout).toContain('FAIL fleet.resolved.json: missing-signature:');
  });

  it('another trust key → untrusted-signature for every artifact', async () => {
    const other = join(dir, 'other-keys');
    expect((await nixfleet('release', 'keygen', '--out', other)).status).toBe(0);
    const otherTrust = await trustFor(join(other, 'release.pub'), join(dir, 'other-trust.json'));
    const r = await verifyAt(releaseDir, '2026-04-24T10:30:00Z', otherTrust);
    expect(r.status).toBe(1);
    expect(r.stdout.match(/untrusted-signature/g)).toHaveLength(3);
  });

  it("stale past the channel's own window (stable: 120 min) while the fleet and edge are still fresh", async () => {
    const r = await verifyAt(releaseDir, '2026-04-24T12:01:01Z');
    expect(r.status).toBe(1);
    expect(r.stdout).toContain('OK   fleet.resolved.json');
    expect(r.stdout).toContain(`OK   rollouts/edge@${COMMIT}.json`);
    expect(r.stdout).toMatch(new RegExp(`FAIL rollouts/stable@${COMMIT}\\.json: stale: .*7200 s`));
    const all = await nixfleet(
      'release',
      'verify',
      releaseDir,
      '--trust-file',
      trustFile,
      '--now',
      '2026-04-24T10:30:00Z',
      '--freshness-window',
      '10m',
    );
    expect(all.status).toBe(1);
    expect(all.stdout.match(/: stale:/g)).toHaveLength(3);
  });

  it('signed more than 60 s in the future → future-dated', async () => {
    const r = await verifyAt(releaseDir, '2026-04-24T09:58:59Z');
    expect(r.status).toBe(1);
    expect(r.stdout).toContain('FAIL fleet.resolved.json: future-dated:');
  });
});

describe.concurrent('bad input exits 2 naming the flag, file or field; never a stack trace', () => {
  it('a fleet.json violating invariants lists each violation with its field path', async () => {
    const bad = {
      ...FLEET,
      rolloutPolicies: { ...FLEET.rolloutPolicies, canary: { waves: [{ selector: { hosts: ['web-09'] } }] } },
      edges: [
        { gated: 'web-01', gates: 'web-02' },
        { gated: 'web-02', gates: 'web-01' },
      ],
    };
    const r = await buildRelease(join(dir, 'bad-out'), bad);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('invariant violation(s):');
    expect(r.stderr).toContain('rolloutPolicies.canary.waves[0].selector.hosts[0]: unknown host "web-09"');
    expect(r.stderr).toMatch(/edges\[\d\]: closes a cycle web-0\d → web-0\d → web-0\d/);
    expect(r.stdout).toBe('');
    expectClean(r);
  });

  it('a fleet.json with a misspelt field or an unknown channel names it', async () => {
    const [typo, channel] = await Promise.all([
      buildRelease(join(dir, 'bad-out'), { ...FLEET, channelEdge: [] }),
      buildRelease(join(dir, 'bad-out'), {
        ...FLEET,
        hosts: [...FLEET.hosts, { name: 'web-03', closure: null, channel: 'beta' }],
      }),
    ]);
    expect([typo.status, channel.status]).toEqual([2, 2]);
    expect(typo.stderr).toContain('channelEdge: unknown field');
    expect(channel.stderr).toContain('hosts[3].channel: unknown channel "beta"');
    expectClean(typo, channel);
  });

  it('a fleet file that is missing or not JSON names the file', async () => {
    const missing = join(dir, 'nope.json');
    const [gone, notJson] = await Promise.all([
      nixfleet(
        'release',
        'build',
        '--fleet',
        missing,
        '--out',
        join(dir, 'x'),
        '--sign-key',
        keyFile,
        '--ci-commit',
        COMMIT,
      ),
      buildRelease(join(dir, 'x'), '{"hosts": ['),
    ]);
    expect([gone.status, notJson.status]).toEqual([2, 2]);
    expect(gone.stderr).toContain(`--fleet ${missing}: no such file`);
    expect(notJson.stderr).toMatch(/--fleet .*fleet-.*\.json: not valid JSON/);
    expectClean(gone, notJson);
  });

  it('a bad --sign-key, --ci-commit or --signed-at names the flag', async () => {
    const rsa = join(dir, 'rsa.pem');
    await writeFile(
      rsa,
      generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'pem', type: 'pkcs8' }),
    );
    const fleetFile = join(dir, 'fleet-flags.json');
    await writeFile(fleetFile, JSON.stringify(FLEET));
    const base = ['release', 'build', '--fleet', fleetFile, '--out', join(dir, 'flags-out')];
    const runs = await Promise.all([
      nixfleet(...base, '--sign-key', rsa, '--ci-commit', COMMIT),
      nixfleet(...base, '--sign-key', keyFile, '--ci-commit', 'HEAD~1'),
      nixfleet(...base, '--sign-key', keyFile, '--ci-commit', COMMIT, '--signed-at', 'yesterday'),
      nixfleet(...base, '--sign-key', keyFile),
    ]);
    expect(runs.map((r) => r.status)).toEqual([2, 2, 2, 2]);
    expect(runs[0]?.stderr).toContain(`--sign-key ${rsa}: not an ed25519 private key`);
    expect(runs[1]?.stderr).toContain('--ci-commit: expected a lowercase hex commit id');
    expect(runs[2]?.stderr).toContain('--signed-at:');
    // The temp dir is not a git checkout, so there is no HEAD to default to.
    expect(runs[3]?.stderr).toMatch(/--ci-commit: not given, and .* is not a git checkout/);
    expectClean(...runs);
  });

  it('keygen refuses to overwrite a key without --force', async () => {
    const keys = join(dir, 'keys-twice');
    expect((await nixfleet('release', 'keygen', '--out', keys)).status).toBe(0);
    const before = await readFile(join(keys, 'release.key'), 'utf8');
    const again = await nixfleet('release', 'keygen', '--out', keys);
    expect(again.status).toBe(2);
    expect(again.stderr).toContain('release.key already exists (pass --force');
    expect(await readFile(join(keys, 'release.key'), 'utf8')).toBe(before);
    const forced = await nixfleet('release', 'keygen', '--out', keys, '--force');
    expect(forced.status).toBe(0);
    expect(await readFile(join(keys, 'release.key'), 'utf8')).not.toBe(before);
    expectClean(again, forced);
  });

  it('verify: a trust file of another schemaVersion, a missing trust file or release dir, a bad --now', async () => {
    const v2 = join(dir, 'trust-v2.json');
    await writeFile(v2, JSON.stringify({ schemaVersion: 2, ciReleaseKey: {} }));
    const runs = await Promise.all([
      nixfleet('release', 'verify', releaseDir, '--trust-file', v2),
      nixfleet('release', 'verify', releaseDir, '--trust-file', join(dir, 'absent.json')),
      nixfleet('release', 'verify', join(dir, 'no-such-release'), '--trust-file', trustFile),
      nixfleet('release', 'verify', releaseDir, '--trust-file', trustFile, '--now', 'tomorrow'),
    ]);
    expect(runs.map((r) => r.status)).toEqual([2, 2, 2, 2]);
    expect(runs[0]?.stderr).toContain(`--trust-file ${v2}: invalid:`);
    expect(runs[0]?.stderr).toContain('schemaVersion:');
    expect(runs[1]?.stderr).toContain('no such file');
    expect(runs[2]?.stderr).toContain('no-such-release: not a directory');
    expect(runs[3]?.stderr).toContain('--now:');
    expectClean(...runs);
  });
});
