// The CP's Hono app (spec §5.2-5.3, contract §4), transport-free so tests drive it through
// `app.request()` and the daemon serves it over HTTPS (or loopback HTTP) with @hono/node-server.
//
// Middleware, outer → inner (spec §5.2): timing + `X-Nixfleet-Protocol: 1` on every response;
// `require_ready` on `/v1/*` and `/metrics` (503 + `Retry-After: 30` until a verified release is
// loaded — before auth, so an anonymous caller also gets 503, not 401); the protocol-version check;
// `require_cn` on every `/v1/*` route but `/v1/enroll`, and on `/metrics`. Every error body is
// `{error, detail}`; bad input is a 4xx, never a 500.
import { Hono, type MiddlewareHandler } from 'hono';
import { routePath } from 'hono/route';
import type { ActorRuntime } from '../actors/index.ts';
import type { Database } from '../db/index.ts';
import type { Dispatcher } from './dispatch/index.ts';
import { createEnrollmentRoutes, type EnrollmentService } from './enrollment/index.ts';
import { type IdentityEnv, jsonError } from './identity/index.ts';
import type { CpMetrics } from './metrics.ts';
import type { PlannerInput } from './planner/index.ts';
import type { ReleaseRefusal, VerifiedRelease } from './releaseSource/index.ts';
import { createAgentEventRoutes } from './routes/agentEvents.ts';
import { createArtifactRoutes } from './routes/artifacts.ts';
import { createDispatchRoutes } from './routes/dispatch.ts';
import { createHealthRoutes, type Readiness } from './routes/health.ts';
import { createHeartbeatRoutes } from './routes/heartbeat.ts';
import { type CpEnv, callerIdentity } from './routes/shared.ts';

export const PROTOCOL_HEADER = 'X-Nixfleet-Protocol';
/** Supported protocol major (spec §5.11). */
export const PROTOCOL_VERSION = 1;

export type CpAuth =
  | { mode: 'mtls'; requireIdentity: MiddlewareHandler<IdentityEnv> }
  /** `--insecure-http` on loopback: no certificates, the request's hostname is believed. */
  | { mode: 'insecure' };

export interface CpAppOptions {
  version: string;
  auth: CpAuth;
  runtime: () => ActorRuntime | undefined;
  dispatcher: Dispatcher;
  release: () => VerifiedRelease | undefined;
  lastRefusal: () => ReleaseRefusal | undefined;
  readiness: () => Readiness;
  metrics: CpMetrics;
  /** Renders `/metrics` (refreshes the state gauges first). */
  renderMetrics: () => Promise<{ contentType: string; body: string }>;
  /** `--longpoll-max-wait`, milliseconds. */
  longpollMaxWaitMs: number;
  lastTickAt: () => Date | null;
  /** Enrollment and renewal (spec §5.8-5.9); absent: those routes answer 404. */
  enrollment?: EnrollmentService | undefined;
  clock: () => Date;
  db: Database;
  /** The planner input as of now (heartbeat synthesis consults the gates, spec §4.6). */
  plannerInput: () => Promise<PlannerInput | undefined>;
  /** Unexpected failures (bugs, database errors outside the store contract), for the log. */
  onError?: (error: unknown, route: string) => void;
}

export function createCpApp(options: CpAppOptions): Hono<CpEnv> {
  const app = new Hono<CpEnv>();

  app.use(async (c, next) => {
    const started = performance.now();
    await next();
    try {
      c.res.headers.set(PROTOCOL_HEADER, String(PROTOCOL_VERSION));
    } catch {
      // A response with immutable headers (none of ours): leave it as it is.
    }
    options.metrics.httpDuration.observe(
      { method: c.req.method, route: routePath(c, -1), status: String(c.res.status) },
      (performance.now() - started) / 1000,
    );
  });

  const requireReady: MiddlewareHandler<CpEnv> = async (c, next) => {
    const r = options.readiness();
    if (!r.ready) {
      return jsonError(c, 503, 'not_ready', `control plane not ready: ${r.reason}`);
    }
    await next();
    return undefined;
  };
  const protocolVersion: MiddlewareHandler<CpEnv> = async (c, next) => {
    const v = c.req.header(PROTOCOL_HEADER);
    if (v !== undefined) {
      if (!/^\d{1,9}$/.test(v.trim())) {
        return jsonError(
          c,
          400,
          'bad_protocol_header',
          `${PROTOCOL_HEADER} must be an unsigned integer, got ${JSON.stringify(v)}`,
        );
      }
      if (Number(v.trim()) !== PROTOCOL_VERSION) {
        return jsonError(
          c,
          426,
          'protocol_unsupported',
          `this control plane speaks protocol ${PROTOCOL_VERSION}; upgrade or downgrade the client`,
        );
      }
    }
    await next();
    return undefined;
  };
  const requireCn: MiddlewareHandler<CpEnv> = async (c, next) => {
    if (options.auth.mode === 'insecure' || c.req.path === '/v1/enroll') {
      await next();
      return undefined;
    }
    return options.auth.requireIdentity(c, next);
  };
  for (const path of ['/v1/*', '/metrics']) app.use(path, requireReady, protocolVersion, requireCn);

  app.route(
    '/',
    createHealthRoutes({
      version: options.version,
      readiness: options.readiness,
      release: options.release,
      lastRefusal: options.lastRefusal,
      lastTickAt: options.lastTickAt,
      metrics: options.renderMetrics,
    }),
  );
  app.get('/v1/whoami', (c) => {
    const identity = callerIdentity(c);
    if (identity === undefined)
      return jsonError(c, 401, 'unauthenticated', 'this endpoint needs a client certificate');
    return c.json({ cn: identity.cn, issuedAt: options.clock().toISOString() });
  });
  app.route(
    '/',
    createAgentEventRoutes({
      auth: options.auth.mode,
      runtime: options.runtime,
      onOutcome: (outcome) => options.metrics.agentEvents.inc({ outcome }),
    }),
  );
  app.route(
    '/',
    createDispatchRoutes({
      auth: options.auth.mode,
      dispatcher: options.dispatcher,
      maxWaitMs: options.longpollMaxWaitMs,
      onWaiting: (delta) => options.metrics.longpollsWaiting.inc(delta),
    }),
  );
  app.route(
    '/',
    createHeartbeatRoutes({
      auth: options.auth.mode,
      db: options.db,
      runtime: options.runtime,
      clock: options.clock,
      plannerInput: options.plannerInput,
    }),
  );
  app.route('/', createArtifactRoutes({ release: options.release }));
  if (options.enrollment !== undefined) {
    const noRenewalWithoutTls: MiddlewareHandler<IdentityEnv> = async (c) =>
      jsonError(c, 401, 'unauthenticated', 'renewal needs mTLS; this CP runs with --insecure-http');
    app.route(
      '/',
      createEnrollmentRoutes({
        service: options.enrollment,
        // The CN was checked by the /v1/* layer above; under mTLS this runs it for the route itself.
        requireIdentity: options.auth.mode === 'mtls' ? options.auth.requireIdentity : noRenewalWithoutTls,
        onError: (error) => options.onError?.(error, '/v1/enroll'),
      }),
    );
  }

  app.notFound((c) => jsonError(c, 404, 'not_found', `no route ${c.req.method} ${c.req.path}`));
  app.onError((error, c) => {
    options.onError?.(error, c.req.path);
    return jsonError(
      c,
      500,
      'internal',
      'the control plane failed to answer; retry, and report it if it persists',
    );
  });
  return app;
}
