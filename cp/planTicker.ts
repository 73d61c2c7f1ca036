// The plan ticker (spec §7.1, §7.15): `run_plan` every `--plan-interval` as a safety net, and at
// once on every relevant event (a new verified release, a host state change). Ticks never overlap:
// a trigger during a tick schedules exactly one more after it, so a burst of events costs one plan.
import type { ActorRuntime, Clock } from '../actors/index.ts';
import type { Database } from '../db/index.ts';
import type { Dispatcher } from './dispatch/index.ts';
import type { Logger } from './logger.ts';
import type { CpMetrics } from './metrics.ts';
import type { VerifiedRelease } from './releaseSource/index.ts';

/** What one plan tick may use (spec §7.7). */
export interface PlanContext {
  readonly db: Database;
  readonly runtime: ActorRuntime;
  readonly release: VerifiedRelease;
  readonly dispatcher: Dispatcher;
  /** CP clock for this tick (spec §7.2). */
  readonly now: Date;
  readonly metrics: CpMetrics;
  readonly logger: Logger;
}

/**
 * The seam between the daemon and the planner: load the planner input, call `planNext`, apply its
 * actions through the runtime and the dispatcher. Throwing fails this tick only.
 */
export interface PlanRunner {
  tick(context: PlanContext): Promise<void>;
}

export type TickOutcome = 'planned' | 'skipped' | 'failed';

export interface PlanTickerOptions {
  clock: Clock;
  /** 0: only `trigger()` runs ticks. */
  intervalMs: number;
  logger: Logger;
  run: () => Promise<Exclude<TickOutcome, 'failed'>>;
  onOutcome?: (outcome: TickOutcome) => void;
}

export interface PlanTicker {
  start(): void;
  /** Ask for a tick soon (coalesced with any running or queued one). */
  trigger(reason: string): void;
  /** Resolves after the next tick that starts after this call has finished. */
  tickNow(reason: string): Promise<TickOutcome>;
  lastTickAt(): Date | null;
  stop(): Promise<void>;
}

export function createPlanTicker(options: PlanTickerOptions): PlanTicker {
  let running: Promise<TickOutcome> | undefined;
  let queued: Promise<TickOutcome> | undefined;
  let last: Date | null = null;
  let timer: unknown;
  let stopped = false;

  const once = async (reason: string): Promise<TickOutcome> => {
    let outcome: TickOutcome;
    try {
      outcome = await options.run();
    } catch (err) {
      options.logger.error({ err, reason }, 'plan tick failed');
      outcome = 'failed';
    }
    // `/healthz` last_tick_at: when the planner last ran, not when a cold start skipped a tick.
    if (outcome === 'planned') last = options.clock.now();
    options.onOutcome?.(outcome);
    return outcome;
  };

  const tickNow = (reason: string): Promise<TickOutcome> => {
    if (stopped) return Promise.resolve('skipped');
    if (running === undefined) {
      running = once(reason).finally(() => {
        running = undefined;
      });
      return running;
    }
    // One tick queued behind the running one serves every trigger that arrives meanwhile.
    queued ??= running.then(() => {
      queued = undefined;
      return tickNow(reason);
    });
    return queued;
  };

  const schedule = () => {
    if (stopped || options.intervalMs <= 0) return;
    timer = options.clock.setTimeout(() => {
      void tickNow('interval').finally(schedule);
    }, options.intervalMs);
  };

  return {
    start() {
      stopped = false;
      schedule();
    },
    trigger(reason) {
      void tickNow(reason);
    },
    tickNow,
    lastTickAt: () => last,
    async stop() {
      stopped = true;
      if (timer !== undefined) options.clock.clearTimeout(timer);
      await queued;
      await running;
    },
  };
}
