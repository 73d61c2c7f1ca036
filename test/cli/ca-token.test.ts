// `nixfleet ca init` and `nixfleet token mint` as real processes (contract §1): the files and tokens
// they produce, exit 2 naming the flag or file on bad input, never a stack trace; and the whole
// chain: a CP run from `ca init`'s files admits a host with a token from `token mint`.
import { spawn } from 'node:child_process';
import { createPrivateKey, generateKeyPairSync, X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { enroll } from '../../agent/enrollment/index.ts';
import { ed25519PublicKeyFromBase64, loadCa } from '../../cp/enrollment/index.ts';
import { readBootstrapTokenClaimsUnverified, verifyBootstrapToken } from '../../proto/bootstrapToken.ts';
import { formatSshPublicKey, sshPublicKeyOf } from '../../proto/sshKey.ts';
import { FIXTURE_FINGERPRINT, FIXTURES, fixtureHostKey, host, startCp } from '../enrollment/support/world.ts';
import { createTestDatabase } from '../support/postgres.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const FIXTURE_PUB = fileURLToPath(new URL('ssh_host_ed25519_key.pub', FIXTURES));
const FIXTURE_KEY = fileURLToPath(new URL('ssh_host_ed25519_key', FIXTURES));

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
      env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' },
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

const STACK_FRAME = /^\s+at\s/m;

function expectUsageError(r: Run | undefined, ...named: string[]): void {
  const what = r?.args.join(' ');
  expect(r?.status, what).toBe(2);
  for (const n of named) expect(r?.stderr, what).toContain(n);
  expect(r?.stderr, what).not.toMatch(STACK_FRAME);
  expect(r?.stdout, what).toBe('');
}

let dir: string;
let orgKeyPath: string;
let orgPublic: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'nixfleet-ca-token-'));
  // The org root key in the format `release keygen` writes (contract §1): PKCS#8 PEM + raw base64.
  const keygen = await nixfleet('release', 'keygen', '--out', join(dir, 'org'));
  expect(keygen.status, keygen.stderr).toBe(0);
  orgKeyPath = join(dir, 'org', 'release.key');
  orgPublic = (await readFile(join(dir, 'org', 'release.pub'), 'utf8')).trim();
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('nixfleet ca init', () => {
  it('writes the CA and a CP server certificate for the given name, keys 0600', async () => {
    const out = join(dir, 'ca');
    const r = await nixfleet('ca', 'init', '--out', out, '--cp-hostname', 'cp.fleet.example');
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain(join(out, 'ca.crt'));

    const [caKey, caCrt, cpKey, cpCrt] = await Promise.all(
      ['ca.key', 'ca.crt', 'cp.key', 'cp.crt'].map((f) => readFile(join(out, f), 'utf8')),
    );
    for (const f of ['ca.key', 'cp.key']) expect((await stat(join(out, f))).mode & 0o777, f).toBe(0o600);
    expect(loadCa({ certPem: caCrt ?? '', keyPem: caKey ?? '' }).ok).toBe(true);
    const ca = new X509Certificate(caCrt ?? '');
    const cp = new X509Certificate(cpCrt ?? '');
    expect(ca.ca).toBe(true);
    expect(cp.verify(ca.publicKey)).toBe(true);
    expect(cp.subjectAltName).toBe('DNS:cp.fleet.example, DNS:localhost, IP Address:127.0.0.1');
    expect(cp.checkPrivateKey(createPrivateKey(cpKey ?? ''))).toBe(true);
  });

  it('never overwrites an existing CA, and refuses bad names and durations, with exit 2', async () => {
    const out = join(dir, 'ca');
    const before = await readFile(join(out, 'ca.key'), 'utf8');
    const runs = await Promise.all([
      nixfleet('ca', 'init', '--out', out),
      nixfleet('ca', 'init', '--out', join(dir, 'ca2'), '--cp-hostname', 'not a name!'),
      nixfleet('ca', 'init', '--out', join(dir, 'ca3'), '--ca-validity', '10 years'),
      nixfleet('ca', 'init', '--out', join(dir, 'ca4'), '--cert-validity', '5s'),
      nixfleet('ca', 'init', '--out', FIXTURE_PUB),
    ]);
    expectUsageError(runs[0], '--out', 'ca.key already exists');
    expectUsageError(runs[1], '--cp-hostname');
    expectUsageError(runs[2], '--ca-validity');
    expectUsageError(runs[3], '--cert-validity');
    expectUsageError(runs[4], '--out', FIXTURE_PUB);
    expect(await readFile(join(out, 'ca.key'), 'utf8')).toBe(before);
  });
});

describe('nixfleet token mint', () => {
  it('prints a token signed by the org key for the host and its SSH key fingerprint', async () => {
    const r = await nixfleet(
      'token',
      'mint',
      '--host',
      'web-01',
      '--org-key',
      orgKeyPath,
      '--ssh-pubkey',
      FIXTURE_PUB,
    );
    expect(r.status, r.stderr).toBe(0);
    const token = r.stdout.trim();
    expect(r.stdout).toBe(`${token}\n`);
    const verified = await verifyBootstrapToken(token, {
      keys: [ed25519PublicKeyFromBase64(orgPublic)],
      now: new Date(),
    });
    expect(verified.ok).toBe(true);
    if (!verified.ok) return;
    expect(verified.claims).toMatchObject({ hostname: 'web-01', sshFingerprint: FIXTURE_FINGERPRINT });
    expect(verified.claims.exp - verified.claims.iat).toBe(3600);
  });

  it('takes --ttl and prints JSON with --json; keys written by node:crypto work like ssh-keygen’s', async () => {
    const { privateKey } = generateKeyPairSync('ed25519');
    const pubPath = join(dir, 'db-01.pub');
    await writeFile(pubPath, `${formatSshPublicKey(privateKey, 'root@db-01')}\n`);
    const r = await nixfleet(
      'token',
      'mint',
      '--host',
      'db-01',
      '--org-key',
      orgKeyPath,
      '--ssh-pubkey',
      pubPath,
      '--ttl',
      '90m',
      '--json',
    );
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as {
      token: string;
      hostname: string;
      sshFingerprint: string;
      expiresAt: string;
    };
    expect(out).toMatchObject({ hostname: 'db-01', sshFingerprint: sshPublicKeyOf(privateKey).fingerprint });
    const claims = readBootstrapTokenClaimsUnverified(out.token);
    expect(claims.ok && claims.claims.exp - claims.claims.iat).toBe(5400);
    expect(claims.ok && new Date(claims.claims.exp * 1000).toISOString()).toBe(out.expiresAt);
  });

  it('refuses bad input with exit 2 and a message naming the flag and the file', async () => {
    const rsaPem = join(dir, 'rsa.pem');
    await writeFile(
      rsaPem,
      generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ type: 'pkcs8', format: 'pem' }),
    );
    const rsaPub = join(dir, 'rsa.pub');
    await writeFile(rsaPub, 'ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC7 root@old\n');
    const garbage = join(dir, 'garbage');
    await writeFile(garbage, 'hello\n');
    const missing = join(dir, 'missing.pub');
    const mint = (...overrides: string[]) => {
      const args = new Map([
        ['--host', 'web-01'],
        ['--org-key', orgKeyPath],
        ['--ssh-pubkey', FIXTURE_PUB],
      ]);
      for (let i = 0; i < overrides.length; i += 2) args.set(overrides[i] ?? '', overrides[i + 1] ?? '');
      return nixfleet('token', 'mint', ...[...args].flat());
    };
    const runs = await Promise.all([
      mint('--ssh-pubkey', missing),
      mint('--ssh-pubkey', FIXTURE_KEY),
      mint('--ssh-pubkey', rsaPub),
      mint('--ssh-pubkey', garbage),
      mint('--org-key', missing),
      mint('--org-key', rsaPem),
      mint('--org-key', garbage),
      mint('--org-key', dir),
      mint('--ttl', 'soon'),
      mint('--ttl', '0s'),
      mint('--ttl', '31d'),
      mint('--host', 'web 01/../x'),
    ]);
    expectUsageError(runs[0], '--ssh-pubkey', missing, 'no such file');
    expectUsageError(runs[1], '--ssh-pubkey', FIXTURE_KEY, '.pub');
    expectUsageError(runs[2], '--ssh-pubkey', rsaPub, 'ssh-rsa');
    expectUsageError(runs[3], '--ssh-pubkey', garbage);
    expectUsageError(runs[4], '--org-key', missing, 'no such file');
    expectUsageError(runs[5], '--org-key', rsaPem, 'ed25519');
    expectUsageError(runs[6], '--org-key', garbage);
    expectUsageError(runs[7], '--org-key', dir);
    expectUsageError(runs[8], '--ttl', 'soon');
    expectUsageError(runs[9], '--ttl');
    expectUsageError(runs[10], '--ttl');
    expectUsageError(runs[11], '--host');
  });
});

describe('ca init + token mint, end to end', () => {
  it('a CP run from `ca init`’s files admits a host with a token from `token mint`', async () => {
    const out = join(dir, 'e2e-ca');
    const init = await nixfleet('ca', 'init', '--out', out, '--cp-hostname', 'localhost');
    expect(init.status, init.stderr).toBe(0);
    const read = (f: string) => readFile(join(out, f), 'utf8');
    const loaded = loadCa({ certPem: await read('ca.crt'), keyPem: await read('ca.key') });
    if (!loaded.ok) throw new Error(loaded.error.message);
    const { privateKey: orgKey } = generateKeyPairSync('ed25519');
    await writeFile(join(dir, 'e2e-org.key'), orgKey.export({ type: 'pkcs8', format: 'pem' }));
    const web01 = host('web-01', fixtureHostKey());

    const database = await createTestDatabase();
    const cp = await startCp({
      db: database.handle.db,
      pki: {
        ca: loaded.ca,
        server: { keyPem: await read('cp.key'), certPem: await read('cp.crt') },
        orgKey,
        previousOrgKey: orgKey,
      },
      hosts: [web01],
    });
    try {
      const minted = await nixfleet(
        'token',
        'mint',
        '--host',
        'web-01',
        '--org-key',
        join(dir, 'e2e-org.key'),
        '--ssh-pubkey',
        FIXTURE_PUB,
      );
      expect(minted.status, minted.stderr).toBe(0);
      const result = await enroll({
        controlPlaneUrl: cp.url,
        caPem: loaded.ca.certPem,
        sshHostKey: web01.sshKey,
        token: minted.stdout,
        now: new Date(),
      });
      expect(result.ok, JSON.stringify(result)).toBe(true);
    } finally {
      await cp.close();
      await database.drop();
    }
  });
});
