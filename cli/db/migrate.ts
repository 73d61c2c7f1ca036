// `nixfleet db migrate`: applies the forward-only migrations under the advisory lock, to a server
// (`--database-url` / DATABASE_URL) or to the embedded PGlite in `<data-dir>/pglite`.
import { join } from 'node:path';
import { countPendingMigrations, migrateDatabase, openDatabase } from '../../db/index.ts';

export interface DbMigrateOptions {
  databaseUrl?: string | undefined;
  dataDir: string;
}

export async function runDbMigrate(options: DbMigrateOptions): Promise<number> {
  const target = options.databaseUrl ?? join(options.dataDir, 'pglite');
  let handle: Awaited<ReturnType<typeof openDatabase>>;
  try {
    handle = await openDatabase(
      options.databaseUrl !== undefined
        ? { url: options.databaseUrl }
        : { dataDir: join(options.dataDir, 'pglite') },
    );
  } catch (err) {
    process.stderr.write(`nixfleet db migrate: cannot open ${redact(target)}: ${String(err)}\n`);
    return 1;
  }
  try {
    const before = await countPendingMigrations(handle.db).catch(() => Number.NaN);
    await migrateDatabase(handle);
    const applied = Number.isNaN(before) ? 'all pending' : String(before);
    process.stdout.write(`migrated ${redact(target)} (${handle.kind}): ${applied} migration(s) applied\n`);
    return 0;
  } catch (err) {
    process.stderr.write(
      `nixfleet db migrate: ${redact(target)}: ${err instanceof Error ? err.message : String(err)}\n`,
    );
    return 1;
  } finally {
    await handle.close();
  }
}

/** Never print a password from a connection URL. */
function redact(target: string): string {
  try {
    const u = new URL(target);
    if (u.password !== '') u.password = '***';
    return u.toString();
  } catch {
    return target;
  }
}
