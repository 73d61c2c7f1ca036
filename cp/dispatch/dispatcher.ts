// The dispatch queue as the CP uses it (spec §5.6, §7.8): enqueue + wake, and the long-poll's take
// loop. The take itself is atomic in the database (`takeDispatch`: one DELETE … FOR UPDATE SKIP
// LOCKED), so two polls for one host — a reconnecting agent, or polls held by two CP replicas —
// never both receive a row.
import type { Clock } from '../../actors/index.ts';
import { type Database, type DatabaseHandle, type DispatchQueueRow, takeDispatch } from '../../db/index.ts';
import type { DispatchWakeups } from './dispatchWakeups.ts';
import { DISPATCH_CHANNEL, type DispatchRow, enqueueDispatch } from './enqueueDispatch.ts';

export interface DispatcherOptions {
  db: Database;
  wakeups: DispatchWakeups;
  clock: Clock;
  /** True once the CP is shutting down: held polls answer "no work" instead of waiting on. */
  closing?: () => boolean;
}

export interface Dispatcher {
  /** Queue a dispatch (upsert + NOTIFY in one transaction) and wake this process's poll at once. */
  enqueue(row: DispatchRow): Promise<void>;
  /**
   * The long-poll: the oldest queued row for `hostname`, waiting up to `waitMs` for one to be
   * queued; undefined on deadline, on abort (the client went away) or on shutdown.
   */
  take(hostname: string, waitMs: number, signal?: AbortSignal): Promise<DispatchQueueRow | undefined>;
  /**
   * Dispatches this process handed out and has not been told to forget: the row left the queue on
   * delivery, so only this memory lets the planner re-queue one whose acknowledgement never came
   * (spec §5.6: a lost response loses the dispatch until the next tick re-queues it).
   */
  taken(): readonly TakenDispatch[];
  /** The planner saw the acknowledgement (or withdrew the dispatch): stop remembering it. */
  forget(hostname: string, rolloutId: string): void;
}

export interface TakenDispatch {
  readonly hostname: string;
  readonly rolloutId: string;
  readonly targetClosure: string;
  readonly soakDueAt: Date;
  readonly enqueuedAt: Date;
  readonly takenAt: Date;
}

export function createDispatcher(options: DispatcherOptions): Dispatcher {
  const { db, wakeups, clock } = options;
  const closing = options.closing ?? (() => false);
  const taken = new Map<string, TakenDispatch>();
  const keyOf = (hostname: string, rolloutId: string) => `${hostname}\u0000${rolloutId}`;
  return {
    taken: () => [...taken.values()],
    forget(hostname, rolloutId) {
      taken.delete(keyOf(hostname, rolloutId));
    },
    async enqueue(row) {
      await enqueueDispatch(db, row);
      // A fresh row supersedes the memory of an earlier take of the same dispatch.
      taken.delete(keyOf(row.hostname, row.rolloutId));
      wakeups.wake(row.hostname);
    },
    async take(hostname, waitMs, signal) {
      const deadline = clock.now().getTime() + waitMs;
      for (;;) {
        // The ticket is taken before looking, so an enqueue landing between an empty take and the
        // wait resolves it instead of being missed until the deadline.
        const ticket = wakeups.ticket(hostname);
        try {
          const row = await takeDispatch(db, hostname);
          if (row !== undefined) {
            taken.set(keyOf(row.hostname, row.rolloutId), { ...row, takenAt: clock.now() });
            return row;
          }
          const remaining = deadline - clock.now().getTime();
          if (remaining <= 0 || closing() || signal?.aborted === true) return undefined;
          const why = await ticket.wait(remaining, signal);
          // Woken: look again (another poll may have taken it first, then wait on for the rest).
          if (why !== 'woken' || closing()) return undefined;
        } finally {
          ticket.cancel();
        }
      }
    },
  };
}

/** Stops the LISTEN bridge. */
export type StopListening = () => Promise<void>;

/**
 * LISTEN `nixfleet_dispatch` and wake local polls for every hostname notified, whichever process
 * enqueued. postgres.js keeps the LISTEN on its own connection and re-subscribes after a reconnect;
 * PGlite delivers notifications within its single engine.
 */
export async function listenForDispatches(
  handle: DatabaseHandle,
  wakeups: DispatchWakeups,
): Promise<StopListening> {
  const onNotify = (payload: string) => {
    if (payload !== '') wakeups.wake(payload);
  };
  if (handle.kind === 'postgres') {
    const meta = await handle.client.listen(DISPATCH_CHANNEL, onNotify);
    return () => meta.unlisten().catch(() => undefined);
  }
  const unlisten = await handle.client.listen(DISPATCH_CHANNEL, onNotify);
  return () => unlisten().catch(() => undefined);
}
