import { drizzle } from 'drizzle-orm/postgres-js';
import postgres, { type Notice } from 'postgres';
import type { PostgresHandle } from './database.ts';
import * as schema from './schema.ts';

export interface PostgresOptions {
  /** `postgres://user:password@host:port/database` (libpq URL syntax, `?sslmode=` honoured). */
  url: string;
  /**
   * Pool size. At least 2, because `migrateDatabase` holds one connection for the advisory lock
   * while the migration runs on another. Default 10; one CP replica rarely needs more.
   */
  maxConnections?: number | undefined;
  /** Shown in `pg_stat_activity.application_name`. Default `nixfleet`. */
  applicationName?: string | undefined;
  /**
   * Server NOTICEs (e.g. "schema already exists, skipping" during migration). postgres.js prints them
   * to the console by default, which corrupts JSON-lines logs; default is to drop them.
   */
  onNotice?: ((notice: Notice) => void) | undefined;
}

export function openPostgres(options: PostgresOptions): PostgresHandle {
  const max = options.maxConnections ?? 10;
  if (!Number.isInteger(max) || max < 2) {
    throw new RangeError(
      `maxConnections must be an integer of at least 2 (got ${max}): migrations hold one connection for their lock and run on another`,
    );
  }
  const client = postgres(options.url, {
    max,
    onnotice: options.onNotice ?? (() => {}),
    connection: { application_name: options.applicationName ?? 'nixfleet' },
  });
  const db = drizzle(client, { schema });
  let closing: Promise<void> | undefined;
  return {
    kind: 'postgres',
    db,
    client,
    close() {
      closing ??= client.end({ timeout: 5 });
      return closing;
    },
  };
}
