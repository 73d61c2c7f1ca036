import type { DatabaseHandle, DatabaseKind } from '../../db/index.ts';
import { createPgliteTestDatabase } from './pglite.ts';
import { createTestDatabase } from './postgres.ts';

export interface DriverDatabase {
  readonly handle: DatabaseHandle;
  drop(): Promise<void>;
}

/**
 * Both drivers behind one factory type, for `describe.each(DRIVERS)`: the same assertions run
 * against real PostgreSQL and against PGlite, so the embedded default cannot drift from production.
 */
export const DRIVERS: ReadonlyArray<readonly [DatabaseKind, () => Promise<DriverDatabase>]> = [
  ['postgres', createTestDatabase],
  ['pglite', createPgliteTestDatabase],
];
