// Queueing a dispatch (spec §7.8 `QueueDispatch`): upsert the host's `dispatch_queue` row and
// `pg_notify` in the same transaction, so every CP process LISTENing on the database wakes that
// host's long-poll exactly when the row becomes visible (a NOTIFY is delivered on commit, never
// before, and never for a rolled-back insert).
import { sql } from 'drizzle-orm';
import { type Database, dispatchQueue } from '../../db/index.ts';

/** The LISTEN/NOTIFY channel; the payload is the hostname. */
export const DISPATCH_CHANNEL = 'nixfleet_dispatch';

export interface DispatchRow {
  hostname: string;
  rolloutId: string;
  targetClosure: string;
  soakDueAt: Date;
  /** CP clock (spec §7.2); the long-poll hands out the oldest first. */
  enqueuedAt: Date;
}

/**
 * Upserts on (hostname, rollout_id): a re-queue of the same rollout replaces the row (new target,
 * new soak deadline, new position) rather than adding a second one (spec §7.14).
 */
export async function enqueueDispatch(db: Database, row: DispatchRow): Promise<void> {
  await db.transaction(async (tx) => {
    await tx
      .insert(dispatchQueue)
      .values(row)
      .onConflictDoUpdate({
        target: [dispatchQueue.hostname, dispatchQueue.rolloutId],
        set: { targetClosure: row.targetClosure, soakDueAt: row.soakDueAt, enqueuedAt: row.enqueuedAt },
      });
    await tx.execute(sql`SELECT pg_notify(${DISPATCH_CHANNEL}, ${row.hostname})`);
  });
}

/** Deletes a queued dispatch that has not been taken yet (planner `WithdrawDispatch`). */
export async function withdrawDispatch(db: Database, hostname: string, rolloutId: string): Promise<boolean> {
  const deleted = await db
    .delete(dispatchQueue)
    .where(sql`${dispatchQueue.hostname} = ${hostname} AND ${dispatchQueue.rolloutId} = ${rolloutId}`)
    .returning({ hostname: dispatchQueue.hostname });
  return deleted.length > 0;
}
