// `nixfleet db migrate` as a real process, on the embedded default and against a dead server.
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = (...args: string[]) =>
  spawnSync(process.execPath, ['--import', 'tsx', 'cli/main.ts', 'db', 'migrate', ...args], {
    encoding: 'utf8',
    env: { ...process.env, DATABASE_URL: '' },
  });

describe('nixfleet db migrate', { timeout: 120_000 }, () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'nixfleet-migrate-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('migrates the embedded PGlite database once, then finds nothing to do', () => {
    const first = run('--data-dir', dir);
    expect(first.status, first.stderr).toBe(0);
    expect(first.stdout).toMatch(/\(pglite\): [1-9]\d* migration\(s\) applied/);
    const second = run('--data-dir', dir);
    expect(second.status, second.stderr).toBe(0);
    expect(second.stdout).toContain(': 0 migration(s) applied');
  });

  it('reports an unreachable server with exit 1, naming it without a stack trace', () => {
    const r = run('--database-url', 'postgres://postgres:secret@127.0.0.1:1/nowhere');
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('127.0.0.1:1');
    expect(r.stderr).not.toContain('secret');
    expect(r.stderr).not.toMatch(/^\s+at /m);
  });
});
