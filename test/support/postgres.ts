// Real PostgreSQL for tests: find or start a server, build per-file databases from a migrated
// template (the graphile-worker pattern, ecosystem-notes §3.12). Nothing here skips: a test that
// asked for PostgreSQL and cannot have one fails, with a message saying how to provide one.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import postgres from 'postgres';
import { inject } from 'vitest';
import { openPostgres, type PostgresHandle } from '../../db/index.ts';

const run = promisify(execFile);

/** The machine's own cluster, as DEVELOPERS.md and `.ci/ensure-postgres.sh` expect it. */
export const LOCAL_POSTGRES_URL = 'postgres://postgres@127.0.0.1:5432/postgres';

export interface PostgresServer {
  /** URL of the server's maintenance database (`postgres`); other databases via `databaseUrl`. */
  readonly url: string;
  /** Human-readable origin, for logs: `DATABASE_URL`, `local`, or the throwaway cluster's dir. */
  readonly origin: string;
  /** Stops the server if this process started it; otherwise does nothing. */
  stop(): Promise<void>;
}

/** `url` with its database name replaced. */
export function databaseUrl(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

/** Quotes an identifier for interpolation into DDL, which cannot take bind parameters. */
function ident(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

function randomSuffix(): string {
  return randomBytes(6).toString('hex');
}

/** Runs `fn` on a short-lived one-connection client of the server's maintenance database. */
export async function withAdminClient<T>(
  serverUrl: string,
  fn: (sql: postgres.Sql) => Promise<T>,
): Promise<T> {
  const sql = postgres(serverUrl, { max: 1, connect_timeout: 5, onnotice: () => {} });
  try {
    return await fn(sql);
  } finally {
    await sql.end({ timeout: 5 });
  }
}

async function probe(url: string): Promise<string | undefined> {
  try {
    await withAdminClient(url, (sql) => sql`select 1`);
    return undefined;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

/**
 * A reachable server: `DATABASE_URL` when set (and it must answer: an explicit choice is never
 * silently replaced), else the local cluster on 127.0.0.1:5432, else a throwaway cluster started
 * here. Throws, explaining every attempt, when none of these works.
 */
export interface FindPostgresServerOptions {
  /** Where `DATABASE_URL` is read from. Default `process.env`. */
  env?: NodeJS.ProcessEnv | undefined;
  /** The local cluster to try second. Default `LOCAL_POSTGRES_URL`. */
  localUrl?: string | undefined;
}

export async function findPostgresServer(options: FindPostgresServerOptions = {}): Promise<PostgresServer> {
  const env = options.env ?? process.env;
  const localUrl = options.localUrl ?? LOCAL_POSTGRES_URL;
  const explicit = env.DATABASE_URL;
  if (explicit !== undefined && explicit !== '') {
    const failure = await probe(explicit);
    if (failure !== undefined) throw new Error(`DATABASE_URL is set but does not answer: ${failure}`);
    return { url: explicit, origin: 'DATABASE_URL', stop: async () => {} };
  }
  const localFailure = await probe(localUrl);
  if (localFailure === undefined) return { url: localUrl, origin: 'local', stop: async () => {} };
  try {
    return await startThrowawayCluster();
  } catch (error) {
    throw new Error(
      [
        'No PostgreSQL server for the tests.',
        `  ${localUrl}: ${localFailure}`,
        `  throwaway cluster: ${error instanceof Error ? error.message : String(error)}`,
        'Set DATABASE_URL to a server that trusts this user, or run `source .ci/ensure-postgres.sh`.',
      ].join('\n'),
      { cause: error },
    );
  }
}

/** Newest `/usr/lib/postgresql/<major>/bin`, else undefined (then the binaries must be on PATH). */
async function postgresBinDir(): Promise<string | undefined> {
  const root = '/usr/lib/postgresql';
  const majors = await readdir(root).catch(() => [] as string[]);
  const newest = majors
    .filter((m) => /^\d+$/.test(m))
    .sort((a, b) => Number(a) - Number(b))
    .at(-1);
  return newest === undefined ? undefined : join(root, newest, 'bin');
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => (port > 0 ? resolve(port) : reject(new Error('no port assigned'))));
    });
  });
}

/**
 * initdb + pg_ctl on a spare loopback port, trust auth, durability off (a test cluster is disposable,
 * and fsync dominates its run time). The server refuses to run as root, hence `runuser`.
 */
async function startThrowawayCluster(): Promise<PostgresServer> {
  const binDir = await postgresBinDir();
  const bin = (name: string) => (binDir === undefined ? name : join(binDir, name));
  const asRoot = process.getuid?.() === 0;
  const exec = (cmd: string, args: string[]) =>
    asRoot ? run('runuser', ['-u', 'postgres', '--', cmd, ...args]) : run(cmd, args);

  const dir = await mkdtemp(join(tmpdir(), 'nixfleet-pg-'));
  try {
    if (asRoot) await run('chown', ['postgres', dir]);
    const data = join(dir, 'data');
    await exec(bin('initdb'), ['-D', data, '-U', 'postgres', '-A', 'trust', '--no-sync', '-E', 'UTF8']);
    const port = await freePort();
    const serverOptions = [
      `-p ${port}`,
      `-k ${dir}`,
      '-c listen_addresses=127.0.0.1',
      '-c fsync=off',
      '-c synchronous_commit=off',
      '-c full_page_writes=off',
    ].join(' ');
    await exec(bin('pg_ctl'), ['-D', data, '-l', join(dir, 'log'), '-w', '-o', serverOptions, 'start']);
    const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
    const stop = async () => {
      await exec(bin('pg_ctl'), ['-D', data, '-m', 'immediate', '-w', 'stop']).catch(() => {});
      await rm(dir, { recursive: true, force: true });
    };
    const failure = await probe(url);
    if (failure !== undefined) {
      await stop();
      throw new Error(`started a cluster in ${dir} but it does not answer: ${failure}`);
    }
    return { url, origin: dir, stop };
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}

/**
 * Creates `nixfleet_template_<random>`, migrates it and freezes it as a template. Connections to it
 * are disallowed afterwards, because `CREATE DATABASE … TEMPLATE` fails while anyone is connected.
 */
export async function createTemplateDatabase(
  serverUrl: string,
  migrate: (handle: PostgresHandle) => Promise<void>,
): Promise<string> {
  const name = `nixfleet_template_${randomSuffix()}`;
  await withAdminClient(serverUrl, (sql) => sql.unsafe(`create database ${ident(name)}`));
  try {
    const handle = openPostgres({ url: databaseUrl(serverUrl, name), applicationName: 'nixfleet-test' });
    try {
      await migrate(handle);
    } finally {
      await handle.close();
    }
    await withAdminClient(serverUrl, (sql) =>
      sql.unsafe(`alter database ${ident(name)} with is_template true allow_connections false`),
    );
    return name;
  } catch (error) {
    await dropTemplateDatabase(serverUrl, name).catch(() => {});
    throw error;
  }
}

export async function dropTemplateDatabase(serverUrl: string, name: string): Promise<void> {
  await withAdminClient(serverUrl, async (sql) => {
    // A template cannot be dropped until it stops being one.
    await sql.unsafe(`alter database ${ident(name)} with is_template false allow_connections true`);
    await sql.unsafe(`drop database if exists ${ident(name)} with (force)`);
  });
}

export interface TestDatabase {
  readonly name: string;
  readonly url: string;
  /** An open pool on the database; `drop()` closes it. */
  readonly handle: PostgresHandle;
  /** Closes the handle and drops the database (forcibly: other sessions a test opened are ended). */
  drop(): Promise<void>;
}

function provided(): { serverUrl: string; template: string } {
  const serverUrl = inject('postgresUrl');
  const template = inject('postgresTemplate');
  if (typeof serverUrl !== 'string' || typeof template !== 'string') {
    throw new Error('test/support/globalSetup.ts did not run: register it in vitest.config.ts');
  }
  return { serverUrl, template };
}

async function createDatabase(templateClause: string, prefix: string): Promise<TestDatabase> {
  const { serverUrl } = provided();
  const name = `${prefix}_${randomSuffix()}`;
  await withAdminClient(serverUrl, (sql) => sql.unsafe(`create database ${ident(name)} ${templateClause}`));
  const url = databaseUrl(serverUrl, name);
  const handle = openPostgres({ url, applicationName: 'nixfleet-test' });
  return {
    name,
    url,
    handle,
    async drop() {
      await handle.close();
      await withAdminClient(serverUrl, (sql) =>
        sql.unsafe(`drop database if exists ${ident(name)} with (force)`),
      );
    },
  };
}

/** A fresh, fully migrated database cloned from the run's template (~0.1 s). One per test file. */
export function createTestDatabase(): Promise<TestDatabase> {
  return createDatabase(`template ${ident(provided().template)}`, 't');
}

/** A database with no schema at all, for tests of the migration path itself. */
export function createEmptyDatabase(): Promise<TestDatabase> {
  return createDatabase('template template0', 't_empty');
}
