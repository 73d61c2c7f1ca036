import type { DatabaseHandle } from './database.ts';
import { openPglite } from './pglite.ts';
import { openPostgres } from './postgres.ts';

export interface OpenDatabaseOptions {
  /**
   * A PostgreSQL server URL. When present the server is used (postgres.js) and `dataDir` is ignored;
   * production control planes, and any deployment with more than one replica, need this.
   */
  url?: string | undefined;
  /** PGlite data directory, used only without `url`. Absent as well means an in-memory database. */
  dataDir?: string | undefined;
  /** postgres.js pool size; see `PostgresOptions.maxConnections`. */
  maxConnections?: number | undefined;
  /** postgres.js `application_name`; see `PostgresOptions.applicationName`. */
  applicationName?: string | undefined;
}

/** Opens the database the options point at. Run `migrateDatabase` before using it. */
export async function openDatabase(options: OpenDatabaseOptions = {}): Promise<DatabaseHandle> {
  if (options.url !== undefined) {
    return openPostgres({
      url: options.url,
      maxConnections: options.maxConnections,
      applicationName: options.applicationName,
    });
  }
  return openPglite({ dataDir: options.dataDir });
}
