import type { SQLWrapper } from 'drizzle-orm';
import type { Database } from './database.ts';

/**
 * Runs hand-written SQL (drizzle's `sql` template) and returns its rows on either driver:
 * postgres.js answers `db.execute` with an array of rows, PGlite with `{ rows }`.
 *
 * Rows come back as the driver decoded them, not through the schema's column mappers: timestamps
 * are strings (drizzle disables both drivers' date parsing) and `bigint` values differ by driver, so
 * cast in SQL (`::int`, `::text`) when a raw result must look the same everywhere. Prefer the query
 * builder when it can express the query.
 */
export async function sqlRows<Row extends Record<string, unknown>>(
  db: Database,
  query: SQLWrapper,
): Promise<Row[]> {
  const result: unknown = await db.execute(query);
  if (Array.isArray(result)) return result as Row[];
  if (typeof result === 'object' && result !== null && 'rows' in result && Array.isArray(result.rows)) {
    return result.rows as Row[];
  }
  throw new TypeError('sqlRows: the driver returned neither a row array nor { rows }');
}
