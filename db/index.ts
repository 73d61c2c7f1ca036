// The db folder's public door: import from here, never from the files behind it.
export type {
  Database,
  DatabaseHandle,
  DatabaseKind,
  PgliteHandle,
  PostgresHandle,
  Schema,
} from './database.ts';
export { type DatabaseErrorInfo, databaseError, SQLSTATE } from './errors.ts';
export {
  countPendingMigrations,
  findMigrationsFolder,
  MIGRATION_LOCK_KEY,
  type MigrateOptions,
  migrateDatabase,
} from './migrate.ts';
export { type OpenDatabaseOptions, openDatabase } from './openDatabase.ts';
export { openPglite, type PgliteOptions } from './pglite.ts';
export { openPostgres, type PostgresOptions } from './postgres.ts';
export { takeDispatch } from './queries/takeDispatch.ts';
export * from './schema.ts';
export { sqlRows } from './sqlRows.ts';
