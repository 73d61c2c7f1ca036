// The `nixfleet` CLI as a user meets it (contract §1): a real process, exit codes 0 / 1 / 2, help for
// every subcommand, usage errors that name the flag, and never a stack trace.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const ENTRY = 'cli/main.ts';

interface Run {
  args: readonly string[];
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs `nixfleet ARGS` as `node --import tsx cli/main.ts ARGS` from the repository root. */
function nixfleet(...args: string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', ENTRY, ...args], {
      cwd: ROOT,
      env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 30_000,
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
    child.on('close', (status, signal) => resolve({ args, status, signal, stdout, stderr }));
  });
}

/** Several invocations, at most four node processes at a time; results in argument order. */
async function all(...argvs: string[][]): Promise<Run[]> {
  const runs: Run[] = new Array(argvs.length);
  let next = 0;
  const worker = async () => {
    while (next < argvs.length) {
      const i = next++;
      runs[i] = await nixfleet(...(argvs[i] ?? []));
    }
  };
  await Promise.all(Array.from({ length: Math.min(4, argvs.length) }, worker));
  return runs;
}

/** A V8 stack frame line, e.g. "    at main (file:///…/main.ts:3:1)". */
const STACK_FRAME = /^\s+at\s/m;

function expectNoStackTrace(runs: readonly Run[]): void {
  for (const r of runs) {
    expect(r.stderr, `stderr of nixfleet ${r.args.join(' ')}`).not.toMatch(STACK_FRAME);
    expect(r.stdout, `stdout of nixfleet ${r.args.join(' ')}`).not.toMatch(STACK_FRAME);
    expect(r.signal, `signal of nixfleet ${r.args.join(' ')}`).toBeNull();
  }
}

/** The command table of contract §1. */
const CONTRACT_COMMANDS = [
  'demo',
  'cp',
  'agent',
  'release',
  'ca',
  'token',
  'status',
  'hosts',
  'rollouts',
  'rollout',
  'events',
  'trace',
  'db',
];

/** Every subcommand path and the flags contract §1 gives it. */
const SUBCOMMANDS: { path: string[]; flags: string[] }[] = [
  { path: ['demo'], flags: ['--hosts', '--fail-host', '--exit-when-done'] },
  {
    path: ['cp'],
    flags: [
      '--listen',
      '--database-url',
      '--data-dir',
      '--release-dir',
      '--trust-file',
      '--tls-cert',
      '--tls-key',
      '--client-ca',
      '--ca-cert',
      '--ca-key',
      '--agent-cert-validity',
      '--plan-interval',
      '--longpoll-max-wait',
      '--release-poll-interval',
      '--insecure-http',
      '--replica-id',
      '--config',
      '--log-format',
    ],
  },
  { path: ['agent'], flags: [] },
  { path: ['release'], flags: [] },
  { path: ['release', 'keygen'], flags: ['--out'] },
  { path: ['release', 'build'], flags: ['--fleet', '--out', '--sign-key', '--ci-commit'] },
  { path: ['release', 'verify'], flags: ['--trust-file'] },
  { path: ['ca'], flags: [] },
  { path: ['ca', 'init'], flags: ['--out'] },
  { path: ['token'], flags: [] },
  { path: ['token', 'mint'], flags: ['--host', '--org-key', '--ssh-pubkey', '--ttl'] },
  { path: ['status'], flags: ['--json'] },
  { path: ['hosts'], flags: ['--json'] },
  { path: ['rollouts'], flags: ['--json'] },
  { path: ['rollout'], flags: ['--json'] },
  { path: ['events'], flags: ['--json'] },
  { path: ['trace'], flags: ['--json'] },
  { path: ['db'], flags: [] },
  { path: ['db', 'migrate'], flags: [] },
];

// Each case starts fresh node processes; on a busy 2-core box that is seconds, not milliseconds.
describe('nixfleet CLI (contract §1)', { timeout: 120_000 }, () => {
  it('--help exits 0 and lists every subcommand of contract §1', async () => {
    const [help, dashH] = await all(['--help'], ['-h']);
    for (const r of [help, dashH]) {
      expect(r?.status).toBe(0);
      expect(r?.stdout).toMatch(/^Usage: nixfleet /m);
      for (const command of CONTRACT_COMMANDS) {
        expect(r?.stdout, command).toMatch(new RegExp(`^ {2}${command}\\b`, 'm'));
      }
    }
    expectNoStackTrace([help, dashH].filter((r) => r !== undefined));
  });

  it('every subcommand answers --help with exit 0, its usage line and the contract’s flags', async () => {
    const runs = await all(...SUBCOMMANDS.map(({ path }) => [...path, '--help']));
    SUBCOMMANDS.forEach(({ path, flags }, i) => {
      const r = runs[i];
      const name = path.join(' ');
      expect(r?.status, name).toBe(0);
      expect(r?.stdout, name).toMatch(new RegExp(`^Usage: nixfleet ${name}\\b`, 'm'));
      for (const flag of flags) expect(r?.stdout, `${name} ${flag}`).toContain(flag);
      expect(r?.stderr, name).toBe('');
    });
    expectNoStackTrace(runs);
  });

  it('a missing subcommand is a usage error: help on stderr, exit 2', async () => {
    const runs = await all([], ['release'], ['db']);
    for (const r of runs) {
      expect(r.status, r.args.join(' ')).toBe(2);
      expect(r.stderr, r.args.join(' ')).toMatch(/Usage: nixfleet/);
    }
    expectNoStackTrace(runs);
  });

  it('--version prints the package version and exits 0', async () => {
    const r = await nixfleet('--version');
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
      version: string;
    };
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toBe(pkg.version);
    expectNoStackTrace([r]);
  });

  it('release build --fleet x (no --out) is a usage error: exit 2, stderr names --out', async () => {
    const r = await nixfleet('release', 'build', '--fleet', 'x');
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('--out');
    expect(r.stderr).not.toContain('not yet available');
    expect(r.stdout).toBe('');
    expectNoStackTrace([r]);
  });

  it('every missing required option or argument exits 2 and names what is missing', async () => {
    const cases: [string[], string][] = [
      [['release', 'build', '--fleet', 'f.json', '--out', 'out'], '--sign-key'],
      [['release', 'build', '--out', 'out', '--sign-key', 'k'], '--fleet'],
      [['release', 'keygen'], '--out'],
      [['release', 'verify', 'dir'], '--trust-file'],
      [['ca', 'init'], '--out'],
      [['token', 'mint', '--host', 'web-01', '--org-key', 'k'], '--ssh-pubkey'],
      [['rollout'], 'idOrAction'],
      [['events'], 'rolloutId'],
      [['trace'], 'host'],
      [['status', '--bogus'], '--bogus'],
      [['release', 'build', '--fleet'], '--fleet'],
    ];
    const runs = await all(...cases.map(([argv]) => argv));
    cases.forEach(([argv, named], i) => {
      const r = runs[i];
      expect(r?.status, argv.join(' ')).toBe(2);
      expect(r?.stderr, argv.join(' ')).toContain(named);
      expect(r?.stderr, argv.join(' ')).not.toContain('not yet available');
    });
    expectNoStackTrace(runs);
  });

  it('an unknown command exits 2 and names it', async () => {
    const runs = await all(['bogus'], ['release', 'sign'], ['db', 'drop']);
    expect(runs.map((r) => r.status)).toEqual([2, 2, 2]);
    expect(runs[0]?.stderr).toContain('bogus');
    expect(runs[1]?.stderr).toContain('sign');
    expect(runs[2]?.stderr).toContain('drop');
    expectNoStackTrace(runs);
  });

  it('nixfleet cp without its required configuration is a usage error naming the flags', async () => {
    const r = await nixfleet('cp');
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('nixfleet cp: --release-dir: is required');
    expect(r.stdout).toBe('');
    expectNoStackTrace([r]);
  });

  it('every not-yet-implemented subcommand, given valid usage, exits 1 with "not yet available"', async () => {
    const argvs = [
      ['demo'],
      ['demo', '--hosts', '3', '--exit-when-done'],
      ['agent'],
      ['status', '--json'],
      ['hosts'],
      ['rollouts'],
      ['rollout', 'stable@r1'],
      ['rollout', 'pause', 'stable@r1'],
      ['events', 'stable@r1', '--json'],
      ['trace', 'web-01'],
    ];
    const runs = await all(...argvs);
    runs.forEach((r) => {
      expect(r.status, r.args.join(' ')).toBe(1);
      expect(r.stderr, r.args.join(' ')).toContain('not yet available');
    });
    expectNoStackTrace(runs);
  });
});
