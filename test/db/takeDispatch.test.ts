import { eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type Database,
  type DispatchQueueRow,
  dispatchQueue,
  type NewDispatchQueueRow,
  takeDispatch,
} from '../../db/index.ts';
import { DRIVERS, type DriverDatabase } from '../support/drivers.ts';
import { createTestDatabase, type TestDatabase } from '../support/postgres.ts';

let counter = 0;
const uniqueHost = () => `host-${++counter}-${Math.random().toString(36).slice(2, 8)}`;

const T0 = Date.parse('2026-01-02T00:00:00.000Z');

function entry(hostname: string, rolloutId: string, enqueuedOffsetMs: number): NewDispatchQueueRow {
  return {
    hostname,
    rolloutId,
    targetClosure: `/nix/store/${rolloutId}-nixos-system`,
    soakDueAt: new Date(T0 + 600_000),
    enqueuedAt: new Date(T0 + enqueuedOffsetMs),
  };
}

async function queued(db: Database, hostname: string): Promise<string[]> {
  const rows = await db
    .select({ rolloutId: dispatchQueue.rolloutId })
    .from(dispatchQueue)
    .where(eq(dispatchQueue.hostname, hostname))
    .orderBy(dispatchQueue.enqueuedAt);
  return rows.map((r) => r.rolloutId);
}

class Rollback extends Error {}

describe.each(DRIVERS)('takeDispatch on %s', (_kind, open) => {
  let database: DriverDatabase;
  let db: Database;

  beforeAll(async () => {
    database = await open();
    db = database.handle.db;
  });
  afterAll(async () => {
    await database?.drop();
  });

  it('hands out a host’s entries oldest first, each once, and leaves other hosts alone', async () => {
    const host = uniqueHost();
    const other = uniqueHost();
    // Inserted out of order, and the other host's entry is older than all of them.
    await db
      .insert(dispatchQueue)
      .values([entry(host, 'r-second', 2_000), entry(host, 'r-first', 1_000), entry(host, 'r-third', 3_000)]);
    await db.insert(dispatchQueue).values(entry(other, 'r-other', 0));

    const first = await takeDispatch(db, host);
    expect(first).toEqual<DispatchQueueRow>({
      hostname: host,
      rolloutId: 'r-first',
      targetClosure: '/nix/store/r-first-nixos-system',
      soakDueAt: new Date(T0 + 600_000),
      enqueuedAt: new Date(T0 + 1_000),
    });
    expect((await takeDispatch(db, host))?.rolloutId).toBe('r-second');
    expect((await takeDispatch(db, host))?.rolloutId).toBe('r-third');
    expect(await takeDispatch(db, host)).toBeUndefined();
    expect(await queued(db, other)).toEqual(['r-other']);
  });

  it('gives the only entry to exactly one of two concurrent takers', async () => {
    const host = uniqueHost();
    await db.insert(dispatchQueue).values(entry(host, 'r-only', 0));

    const results = await Promise.all([takeDispatch(db, host), takeDispatch(db, host)]);

    expect(results.filter((r) => r !== undefined).map((r) => r.rolloutId)).toEqual(['r-only']);
    expect(await queued(db, host)).toEqual([]);
  });

  it('gives two concurrent takers distinct entries, the oldest to exactly one of them', async () => {
    const host = uniqueHost();
    await db.insert(dispatchQueue).values([entry(host, 'r-old', 0), entry(host, 'r-new', 1_000)]);

    const results = await Promise.all([takeDispatch(db, host), takeDispatch(db, host)]);

    expect(results.map((r) => r?.rolloutId).sort()).toEqual(['r-new', 'r-old']);
    expect(await queued(db, host)).toEqual([]);
  });

  it('puts the entry back when the transaction that took it rolls back', async () => {
    const host = uniqueHost();
    await db.insert(dispatchQueue).values(entry(host, 'r-retry', 0));

    let takenInside: DispatchQueueRow | undefined;
    await expect(
      db.transaction(async (tx) => {
        takenInside = await takeDispatch(tx, host);
        throw new Rollback('reply could not be sent');
      }),
    ).rejects.toBeInstanceOf(Rollback);

    expect(takenInside?.rolloutId).toBe('r-retry');
    expect((await takeDispatch(db, host))?.rolloutId).toBe('r-retry');
  });
});

// Row locks across sessions need a second connection, which PGlite does not have (ecosystem-notes §3.11).
describe('takeDispatch across PostgreSQL sessions', () => {
  let database: TestDatabase;
  let db: Database;

  beforeAll(async () => {
    database = await createTestDatabase();
    db = database.handle.db;
  });
  afterAll(async () => {
    await database?.drop();
  });

  /**
   * A take in its own transaction on another pooled connection. `lock_timeout` turns a regression
   * to a blocking take (no SKIP LOCKED) into an error instead of a hung test.
   */
  const takeElsewhere = (hostname: string) =>
    db.transaction(async (tx) => {
      await tx.execute(sql`set local lock_timeout = '5s'`);
      return takeDispatch(tx, hostname);
    });

  it('skips an entry another open transaction has taken, without waiting for it', async () => {
    const host = uniqueHost();
    await db.insert(dispatchQueue).values([entry(host, 'r-old', 0), entry(host, 'r-new', 1_000)]);

    const { mine, theirs, nothingLeft } = await db.transaction(async (tx) => {
      const mine = await takeDispatch(tx, host);
      // Still uncommitted here: the oldest entry is deleted but locked, not yet gone.
      const theirs = await takeElsewhere(host);
      const nothingLeft = await takeElsewhere(host);
      return { mine, theirs, nothingLeft };
    });

    expect(mine?.rolloutId).toBe('r-old');
    expect(theirs?.rolloutId).toBe('r-new');
    expect(nothingLeft).toBeUndefined();
    expect(await queued(db, host)).toEqual([]);
  });

  it('lets another session take the entry once the holder rolls back', async () => {
    const host = uniqueHost();
    await db.insert(dispatchQueue).values(entry(host, 'r-only', 0));

    let whileHeld: DispatchQueueRow | undefined | 'not taken yet' = 'not taken yet';
    await expect(
      db.transaction(async (tx) => {
        expect((await takeDispatch(tx, host))?.rolloutId).toBe('r-only');
        whileHeld = await takeElsewhere(host);
        throw new Rollback('holder crashed');
      }),
    ).rejects.toBeInstanceOf(Rollback);

    expect(whileHeld).toBeUndefined();
    expect((await takeElsewhere(host))?.rolloutId).toBe('r-only');
  });
});
