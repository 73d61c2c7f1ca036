// The dispatch "kick" (spec §7.1 "Dispatch watch", §5.6): long-polls wait on a per-hostname signal
// that fires when a dispatch is queued for that host. In-process callers fire it directly; a
// PostgreSQL LISTEN on `nixfleet_dispatch` fires it for enqueues made by any process on the same
// database (another CP replica), so a held poll never waits out its deadline for work that exists.
import type { Clock } from '../../actors/index.ts';

/** A registered interest in one host's next wake-up. */
export interface DispatchTicket {
  /** Resolves `'woken'`, `'timeout'` after `ms`, or `'aborted'` when the signal fires. */
  wait(ms: number, signal?: AbortSignal): Promise<'woken' | 'timeout' | 'aborted'>;
  /** Forget the interest (idempotent). */
  cancel(): void;
}

export interface DispatchWakeups {
  /**
   * Registers interest before the caller looks at the queue, so a wake-up between "found nothing"
   * and "start waiting" is not lost (it resolves the ticket early instead).
   */
  ticket(hostname: string): DispatchTicket;
  wake(hostname: string): void;
  /** Wakes every waiter (shutdown: they re-check the queue and answer). */
  wakeAll(): void;
  /** Number of held tickets (metrics, tests). */
  readonly waiting: number;
}

export function createDispatchWakeups(clock: Clock): DispatchWakeups {
  const byHost = new Map<string, Set<() => void>>();
  let waiting = 0;

  const remove = (hostname: string, fire: () => void) => {
    const set = byHost.get(hostname);
    if (set?.delete(fire) === true) {
      waiting--;
      if (set.size === 0) byHost.delete(hostname);
    }
  };

  return {
    get waiting() {
      return waiting;
    },
    ticket(hostname) {
      let woken = false;
      let onWake: (() => void) | undefined;
      const fire = () => {
        woken = true;
        remove(hostname, fire);
        onWake?.();
      };
      let set = byHost.get(hostname);
      if (set === undefined) {
        set = new Set();
        byHost.set(hostname, set);
      }
      set.add(fire);
      waiting++;
      return {
        cancel: () => remove(hostname, fire),
        wait(ms, signal) {
          if (woken) return Promise.resolve('woken');
          if (signal?.aborted === true) {
            remove(hostname, fire);
            return Promise.resolve('aborted');
          }
          return new Promise((resolve) => {
            const done = (why: 'woken' | 'timeout' | 'aborted') => {
              clock.clearTimeout(timer);
              signal?.removeEventListener('abort', onAbort);
              remove(hostname, fire);
              onWake = undefined;
              resolve(why);
            };
            const onAbort = () => done('aborted');
            const timer = clock.setTimeout(() => done('timeout'), Math.max(0, ms));
            signal?.addEventListener('abort', onAbort, { once: true });
            onWake = () => done('woken');
          });
        },
      };
    },
    wake(hostname) {
      const set = byHost.get(hostname);
      if (set === undefined) return;
      for (const fire of [...set]) fire();
    },
    wakeAll() {
      for (const set of [...byHost.values()]) for (const fire of [...set]) fire();
    },
  };
}
