import { asc, eq, sql } from 'drizzle-orm';
import type { Database } from '../database.ts';
import { type DispatchQueueRow, dispatchQueue } from '../schema.ts';

/**
 * Removes and returns the oldest queued dispatch for `hostname`, or undefined when there is none.
 *
 * One statement (spec §7.14): the subselect locks the oldest row with `FOR UPDATE SKIP LOCKED`, so
 * two long-polls for the same host (a reconnecting agent, two CP replicas) never both receive one
 * entry, and neither waits for the other: the loser moves on to the next entry or gets nothing.
 * Inside a caller's transaction the take is undone by a rollback, returning the entry to the queue.
 */
export async function takeDispatch(db: Database, hostname: string): Promise<DispatchQueueRow | undefined> {
  const oldest = db
    .select({ hostname: dispatchQueue.hostname, rolloutId: dispatchQueue.rolloutId })
    .from(dispatchQueue)
    .where(eq(dispatchQueue.hostname, hostname))
    // rollout_id breaks enqueued_at ties so the order is total and takes are reproducible.
    .orderBy(asc(dispatchQueue.enqueuedAt), asc(dispatchQueue.rolloutId))
    .limit(1)
    .for('update', { skipLocked: true });
  const [taken] = await db
    .delete(dispatchQueue)
    .where(sql`(${dispatchQueue.hostname}, ${dispatchQueue.rolloutId}) = (${oldest})`)
    .returning();
  return taken;
}
