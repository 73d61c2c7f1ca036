import { migrateDatabase, openPglite, type PgliteHandle } from '../../db/index.ts';

export interface PgliteTestDatabase {
  readonly handle: PgliteHandle;
  drop(): Promise<void>;
}

/**
 * An in-memory PGlite with every migration applied. Slow to start (seconds: the WASM engine boots),
 * so open one per test file, not per test.
 */
export async function createPgliteTestDatabase(): Promise<PgliteTestDatabase> {
  const handle = await openPglite();
  try {
    await migrateDatabase(handle);
  } catch (error) {
    await handle.close();
    throw error;
  }
  return { handle, drop: () => handle.close() };
}
