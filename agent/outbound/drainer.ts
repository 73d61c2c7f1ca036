// The outbound drainer worker (spec §6.6: "every 15 s + on kick"): runs delivery passes over the
// queue, backing off exponentially with jitter while the CP cannot take events (spec §10 G5).
// Time comes from the injected clock only, so tests drive retries by hand.
import type { Clock } from '../../actors/index.ts';
import { type BackoffOptions, backoffDelayMs } from './backoff.ts';
import type { OutboundSend } from './delivery.ts';
import {
  type DrainReport,
  type OutboundLogger,
  type OutboundQueue,
  type ReplayReport,
  silentLogger,
} from './outboundQueue.ts';

export interface OutboundDrainerOptions {
  queue: OutboundQueue;
  send: OutboundSend;
  clock: Clock;
  /** Uniform [0, 1) source for the backoff jitter. Default Math.random. */
  random?: () => number;
  /** Pass cadence when nothing kicks the drainer, ms. Default 15 s (spec Appendix A). */
  intervalMs?: number;
  backoff?: BackoffOptions;
  logger?: OutboundLogger;
  /** Called after every pass (metrics, tests). */
  onPass?: (report: DrainReport) => void;
}

export interface OutboundDrainerState {
  running: boolean;
  /** Consecutive passes that stopped on a retryable failure. */
  failures: number;
  /** Clock time (ms) the next pass is scheduled for; null while a pass runs or when stopped. */
  nextPassAt: number | null;
}

export interface OutboundDrainer {
  /** Schedules the first pass at once. */
  start(): void;
  /**
   * Something was enqueued: run a pass now, or right after the running one. During a backoff the
   * kick waits for it — new events must not turn a failing CP's backoff into a hot loop.
   */
  kick(): void;
  /** Replay-From (G13): re-queue the rollout's archived events above `fromSeq`, then kick. */
  replayFrom(rolloutId: string, fromSeq: number): Promise<ReplayReport>;
  /** Stops scheduling and waits for the pass in flight; pending events stay on disk. */
  stop(): Promise<void>;
  state(): OutboundDrainerState;
}

export function createOutboundDrainer(options: OutboundDrainerOptions): OutboundDrainer {
  const { queue, send, clock } = options;
  const random = options.random ?? Math.random;
  const intervalMs = options.intervalMs ?? 15_000;
  const logger = options.logger ?? silentLogger;

  let running = false;
  let stopped = true;
  let failures = 0;
  let timer: unknown = null;
  let nextPassAt: number | null = null;
  let backingOff = false;
  let rerun = false;
  let inFlight: Promise<void> = Promise.resolve();

  const schedule = (delayMs: number): void => {
    if (timer !== null) clock.clearTimeout(timer);
    nextPassAt = clock.now().getTime() + delayMs;
    timer = clock.setTimeout(() => {
      timer = null;
      nextPassAt = null;
      backingOff = false;
      runPass();
    }, delayMs);
  };

  const runPass = (): void => {
    if (stopped) return;
    if (running) {
      rerun = true;
      return;
    }
    if (timer !== null) {
      clock.clearTimeout(timer);
      timer = null;
      nextPassAt = null;
    }
    running = true;
    rerun = false;
    inFlight = queue.drainOnce(send).then(
      (report) => afterPass(report),
      (error: unknown) => {
        // drainOnce never rejects by contract; keep the worker alive if it ever does.
        logger.error({ error: (error as Error).message }, 'outbound: drain pass crashed');
        afterPass({
          delivered: 0,
          deadLettered: 0,
          blocked: { counter: -1, status: null, detail: 'crash', retryAfterMs: null },
        });
      },
    );
  };

  const afterPass = (report: DrainReport): void => {
    running = false;
    options.onPass?.(report);
    if (stopped) return;
    if (report.blocked !== null) {
      failures++;
      const delay = Math.max(
        report.blocked.retryAfterMs ?? 0,
        backoffDelayMs(failures, random, options.backoff),
      );
      backingOff = true;
      logger.info({ failures, delayMs: delay }, 'outbound: backing off');
      schedule(delay);
      return;
    }
    failures = 0;
    if (rerun) {
      runPass();
      return;
    }
    schedule(intervalMs);
  };

  const drainer: OutboundDrainer = {
    start() {
      if (!stopped) return;
      stopped = false;
      runPass();
    },
    kick() {
      if (stopped || backingOff) return;
      runPass();
    },
    async replayFrom(rolloutId, fromSeq) {
      const report = await queue.replayFrom(rolloutId, fromSeq);
      if (report.requeued.length > 0) drainer.kick();
      return report;
    },
    async stop() {
      stopped = true;
      if (timer !== null) clock.clearTimeout(timer);
      timer = null;
      nextPassAt = null;
      await inFlight;
    },
    state() {
      return { running, failures, nextPassAt };
    },
  };
  return drainer;
}
