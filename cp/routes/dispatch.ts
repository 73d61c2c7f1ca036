// `GET /v1/agent/dispatch?wait=<seconds>` (spec §5.6): hands the caller its oldest queued dispatch,
// holding the request up to `wait` (capped at `--longpoll-max-wait`) until one is queued. The
// hostname comes from the mTLS CN alone; under `--insecure-http` from `?hostname=`.
import { Hono } from 'hono';
import type { DispatchQueueRow } from '../../db/index.ts';
import { hostnameSchema } from '../../proto/index.ts';
import type { Dispatcher } from '../dispatch/index.ts';
import { jsonError } from '../identity/index.ts';
import { type AgentAuthMode, type CpEnv, callerIdentity, isDatabaseError } from './shared.ts';

export interface DispatchRoutesOptions {
  auth: AgentAuthMode;
  dispatcher: Dispatcher;
  /** `--longpoll-max-wait`, milliseconds; also the wait when `?wait` is absent (spec §5.6). */
  maxWaitMs: number;
  onWaiting?: (delta: 1 | -1) => void;
}

/** Spec §5.6 response, snake_case. */
export function dispatchBody(row: DispatchQueueRow): Record<string, string> {
  return {
    hostname: row.hostname,
    rollout_id: row.rolloutId,
    target_closure: row.targetClosure,
    soak_due_at: row.soakDueAt.toISOString(),
    enqueued_at: row.enqueuedAt.toISOString(),
  };
}

export function createDispatchRoutes(options: DispatchRoutesOptions): Hono<CpEnv> {
  const app = new Hono<CpEnv>();
  app.get('/v1/agent/dispatch', async (c) => {
    const waitParam = c.req.query('wait');
    let waitMs = options.maxWaitMs;
    if (waitParam !== undefined) {
      // Seconds; fractions are accepted (tests, impatient clients). Anything else is a client bug.
      if (!/^\d{1,9}(\.\d{1,3})?$/.test(waitParam)) {
        return jsonError(
          c,
          400,
          'invalid_wait',
          `wait must be a number of seconds, got ${JSON.stringify(waitParam)}`,
        );
      }
      waitMs = Math.min(options.maxWaitMs, Math.round(Number(waitParam) * 1000));
    }
    let hostname: string;
    if (options.auth === 'mtls') {
      const identity = callerIdentity(c);
      if (identity === undefined)
        return jsonError(c, 401, 'unauthenticated', 'this endpoint needs a client certificate');
      hostname = identity.machineId;
    } else {
      const parsed = hostnameSchema.safeParse(c.req.query('hostname'));
      if (!parsed.success) {
        return jsonError(c, 400, 'invalid_hostname', 'without mTLS, name the polling host: ?hostname=<host>');
      }
      hostname = parsed.data;
    }
    options.onWaiting?.(1);
    let row: DispatchQueueRow | undefined;
    try {
      // The request's signal fires when the client disconnects: the wait ends with it.
      row = await options.dispatcher.take(hostname, waitMs, c.req.raw.signal);
    } catch (error) {
      if (!isDatabaseError(error)) throw error;
      return jsonError(
        c,
        503,
        'store_unavailable',
        'the dispatch queue cannot be read (database unavailable); retry',
      );
    } finally {
      options.onWaiting?.(-1);
    }
    return row === undefined ? c.body(null, 204) : c.json(dispatchBody(row), 200);
  });
  return app;
}
