// The driver-neutral face of the database. Repositories and the actor runtime take a `Database`, so
// the same code runs on a PostgreSQL server (postgres.js) and on embedded PGlite.
import type { PGlite } from '@electric-sql/pglite';
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import type { Sql } from 'postgres';
import type * as schema from './schema.ts';

export type Schema = typeof schema;

/**
 * A drizzle database over either driver. Transactions (`db.transaction(tx => …)`) hand out a
 * subtype of this, so query helpers that accept a `Database` also work inside a transaction.
 */
export type Database = PgDatabase<PgQueryResultHKT, Schema>;

export type DatabaseKind = 'postgres' | 'pglite';

interface HandleBase {
  readonly db: Database;
  /** Ends the connections (postgres) or shuts the embedded engine down (pglite). Idempotent. */
  close(): Promise<void>;
}

export interface PostgresHandle extends HandleBase {
  readonly kind: 'postgres';
  /** The postgres.js pool, for what drizzle does not wrap: LISTEN/NOTIFY, `reserve()`. */
  readonly client: Sql;
}

export interface PgliteHandle extends HandleBase {
  readonly kind: 'pglite';
  /** The embedded engine, for `dumpDataDir()` and other PGlite-only calls. */
  readonly client: PGlite;
}

/** Narrow on `kind` to reach the driver's own client. */
export type DatabaseHandle = PostgresHandle | PgliteHandle;
