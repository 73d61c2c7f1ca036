import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sql } from 'drizzle-orm';
import { readMigrationFiles } from 'drizzle-orm/migrator';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator';
import { drizzle as drizzlePostgres } from 'drizzle-orm/postgres-js';
import { migrate as migratePostgres } from 'drizzle-orm/postgres-js/migrator';
import type { Database, DatabaseHandle } from './database.ts';
import { sqlRows } from './sqlRows.ts';

/**
 * Session-level advisory lock key held while migrating: the ASCII bytes of "nixfleet". Without it,
 * control planes starting together on an empty database race on drizzle's bookkeeping table and all
 * but one fail with a duplicate-key error (ecosystem-notes §3.10).
 */
export const MIGRATION_LOCK_KEY = 0x6e69_7866_6c65_6574n;

const PACKAGE_NAME = 'nixfleet';

export interface MigrateOptions {
  /** Folder of generated migrations. Default: `migrations/` at the package root. */
  migrationsFolder?: string | undefined;
}

/**
 * The package's `migrations/` folder. Walks up to the package's own package.json rather than using a
 * fixed relative path, because this module runs both as `db/migrate.ts` (tsx, vitest) and as
 * `dist/db/migrate.js`, one level deeper, while `migrations/` stays at the root in both cases.
 */
export function findMigrationsFolder(start: string = dirname(fileURLToPath(import.meta.url))): string {
  for (let dir = start; ; ) {
    if (readPackageName(join(dir, 'package.json')) === PACKAGE_NAME) return join(dir, 'migrations');
    const parent = dirname(dir);
    if (parent === dir) {
      throw new Error(
        `cannot find the ${PACKAGE_NAME} package root above ${start}; pass migrationsFolder explicitly`,
      );
    }
    dir = parent;
  }
}

function readPackageName(file: string): unknown {
  try {
    return (JSON.parse(readFileSync(file, 'utf8')) as { name?: unknown }).name;
  } catch {
    return undefined;
  }
}

/**
 * Applies pending migrations. Safe to call from every process at startup: on PostgreSQL the work is
 * serialised by `pg_advisory_lock(MIGRATION_LOCK_KEY)`, and whoever comes second finds nothing to do.
 */
export async function migrateDatabase(handle: DatabaseHandle, options: MigrateOptions = {}): Promise<void> {
  const migrationsFolder = options.migrationsFolder ?? findMigrationsFolder();
  if (handle.kind === 'pglite') {
    // One engine, one connection: nothing can interleave, so there is nothing to lock.
    await migratePglite(drizzlePglite(handle.client), { migrationsFolder });
    return;
  }
  // The lock belongs to a session, so it is taken and released on one reserved connection; from a
  // pool, the unlock could land on a different session and leave the lock held. The migration itself
  // needs a transaction, which a reserved postgres.js connection cannot open, so it runs on the pool
  // while the reserved session keeps everyone else out.
  const lockSession = await handle.client.reserve();
  const key = MIGRATION_LOCK_KEY.toString();
  try {
    await lockSession`select pg_advisory_lock(${key}::bigint)`;
    try {
      await migratePostgres(drizzlePostgres(handle.client), { migrationsFolder });
    } catch (error) {
      // Report the migration's failure, not a follow-on unlock failure on the same broken session
      // (a dead session has dropped the lock anyway).
      await lockSession`select pg_advisory_unlock(${key}::bigint)`.catch(() => {});
      throw error;
    }
    await lockSession`select pg_advisory_unlock(${key}::bigint)`;
  } finally {
    lockSession.release();
  }
}

/**
 * How many migrations in the folder the database has not applied yet; zero means the schema is
 * current (`/readyz` gates on this). Mirrors the migrator's own rule: a migration is applied when
 * its folder timestamp is not newer than the newest one recorded in `drizzle.__drizzle_migrations`.
 */
export async function countPendingMigrations(db: Database, options: MigrateOptions = {}): Promise<number> {
  const migrations = readMigrationFiles({
    migrationsFolder: options.migrationsFolder ?? findMigrationsFolder(),
  });
  const [bookkeeping] = await sqlRows<{ present: boolean }>(
    db,
    sql`select to_regclass('drizzle.__drizzle_migrations') is not null as present`,
  );
  if (bookkeeping?.present !== true) return migrations.length;
  const [latest] = await sqlRows<{ createdAt: string | null }>(
    db,
    sql`select max(created_at)::text as "createdAt" from drizzle.__drizzle_migrations`,
  );
  const appliedUpTo = latest?.createdAt == null ? Number.NEGATIVE_INFINITY : Number(latest.createdAt);
  return migrations.filter((m) => m.folderMillis > appliedUpTo).length;
}
