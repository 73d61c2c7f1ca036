import { PGlite } from '@electric-sql/pglite';
import { drizzle } from 'drizzle-orm/pglite';
import type { PgliteHandle } from './database.ts';
import * as schema from './schema.ts';

export interface PgliteOptions {
  /**
   * Directory holding the embedded cluster; created on first use. Absent means in-memory, gone on
   * close: for tests and throwaway demos only.
   */
  dataDir?: string | undefined;
}

/**
 * Embedded PostgreSQL in WebAssembly. It is one process with one connection, so it can back exactly
 * one control plane: no second replica, no cross-session row or advisory locks (ecosystem-notes §3.11).
 */
export async function openPglite(options: PgliteOptions = {}): Promise<PgliteHandle> {
  const client = options.dataDir === undefined ? new PGlite() : new PGlite(options.dataDir);
  await client.waitReady;
  const db = drizzle(client, { schema });
  let closing: Promise<void> | undefined;
  return {
    kind: 'pglite',
    db,
    client,
    close() {
      closing ??= client.closed ? Promise.resolve() : client.close();
      return closing;
    },
  };
}
