import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sql } from 'drizzle-orm';
import { readMigrationFiles } from 'drizzle-orm/migrator';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  countPendingMigrations,
  type DatabaseHandle,
  findMigrationsFolder,
  MIGRATION_LOCK_KEY,
  migrateDatabase,
  openDatabase,
  openPostgres,
  type PostgresHandle,
  sqlRows,
} from '../../db/index.ts';
import { createEmptyDatabase, type TestDatabase } from '../support/postgres.ts';

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const journalLength = readMigrationFiles({ migrationsFolder: join(repoRoot, 'migrations') }).length;

describe('findMigrationsFolder', () => {
  it('finds the root migrations folder from the source tree and from the compiled dist/db tree', () => {
    expect(findMigrationsFolder(join(repoRoot, 'db'))).toBe(join(repoRoot, 'migrations'));
    expect(findMigrationsFolder(join(repoRoot, 'dist', 'db'))).toBe(join(repoRoot, 'migrations'));
    expect(findMigrationsFolder()).toBe(join(repoRoot, 'migrations'));
  });

  it('refuses to guess outside the package', () => {
    expect(() => findMigrationsFolder('/')).toThrow(/package root/);
  });
});

describe('migrateDatabase on pglite', () => {
  it('takes an empty database to the latest migration, and is a no-op the second time', async () => {
    const handle = await openDatabase();
    try {
      expect(handle.kind).toBe('pglite');
      expect(await countPendingMigrations(handle.db)).toBe(journalLength);
      await migrateDatabase(handle);
      await migrateDatabase(handle);
      expect(await countPendingMigrations(handle.db)).toBe(0);
      const [applied] = await sqlRows<{ n: number }>(
        handle.db,
        sql`select count(*)::int as n from drizzle.__drizzle_migrations`,
      );
      expect(applied?.n).toBe(journalLength);
    } finally {
      await handle.close();
    }
  });
});

describe('openPostgres', () => {
  it('refuses a one-connection pool, on which migrating would wait for itself forever', () => {
    expect(() => openPostgres({ url: 'postgres://127.0.0.1:1/unused', maxConnections: 1 })).toThrow(
      RangeError,
    );
  });
});

describe('migrateDatabase on postgres', () => {
  let database: TestDatabase | undefined;
  const extraHandles: DatabaseHandle[] = [];

  afterEach(async () => {
    await Promise.all(extraHandles.splice(0).map((h) => h.close()));
    await database?.drop();
    database = undefined;
  });

  async function appliedCount(handle: PostgresHandle): Promise<number> {
    const [row] = await sqlRows<{ n: number }>(
      handle.db,
      sql`select count(*)::int as n from drizzle.__drizzle_migrations`,
    );
    return row?.n ?? 0;
  }

  it('succeeds for three processes starting at once on an empty database', async () => {
    database = await createEmptyDatabase();
    // Separate pools stand in for separate control-plane processes: each has its own sessions.
    const { url } = database;
    const handles = await Promise.all(
      [1, 2, 3].map(() => openDatabase({ url, applicationName: 'nixfleet-test-migrate' })),
    );
    extraHandles.push(...handles);
    expect(handles.map((h) => h.kind)).toEqual(['postgres', 'postgres', 'postgres']);

    const results = await Promise.allSettled(handles.map((h) => migrateDatabase(h)));

    expect(results.map((r) => (r.status === 'rejected' ? String(r.reason) : r.status))).toEqual([
      'fulfilled',
      'fulfilled',
      'fulfilled',
    ]);
    expect(await appliedCount(database.handle)).toBe(journalLength);
    expect(await countPendingMigrations(database.handle.db)).toBe(0);
  });

  it('waits for the advisory lock held by another session before touching the schema', async () => {
    database = await createEmptyDatabase();
    const holder = await database.handle.client.reserve();
    const key = MIGRATION_LOCK_KEY.toString();
    const migrator = openPostgres({ url: database.url, applicationName: 'nixfleet-test-waiter' });
    extraHandles.push(migrator);
    let migration: Promise<void> | undefined;
    try {
      await holder`select pg_advisory_lock(${key}::bigint)`;
      migration = migrateDatabase(migrator);
      // The key is split into two 32-bit halves in pg_locks; a waiting request shows as not granted.
      await vi.waitFor(
        async () => {
          const [waiting] = await holder<{ n: number }[]>`
            select count(*)::int as n from pg_locks
            where locktype = 'advisory' and not granted and database = (select oid from pg_database where datname = current_database())
              and ((classid::bigint << 32) | objid::bigint) = ${key}::bigint`;
          expect(waiting?.n).toBe(1);
        },
        { timeout: 10_000, interval: 20 },
      );
      const [schema] = await holder<{ present: boolean }[]>`
        select to_regclass('drizzle.__drizzle_migrations') is not null as present`;
      expect(schema?.present).toBe(false);
    } finally {
      await holder`select pg_advisory_unlock(${key}::bigint)`;
      holder.release();
    }
    await migration;
    expect(await appliedCount(database.handle)).toBe(journalLength);
  });
});
