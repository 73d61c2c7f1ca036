// Liveness, readiness and metrics (spec §5.2-5.3, §5.10, contract §4).
import { Hono } from 'hono';
import { jsonError, RETRY_AFTER_SECONDS } from '../identity/index.ts';
import type { ReleaseRefusal, VerifiedRelease } from '../releaseSource/index.ts';
import type { CpEnv } from './shared.ts';

export type Readiness = { ready: true } | { ready: false; reason: string };

export interface HealthRoutesOptions {
  version: string;
  readiness: () => Readiness;
  release: () => VerifiedRelease | undefined;
  lastRefusal: () => ReleaseRefusal | undefined;
  lastTickAt: () => Date | null;
  /** Renders Prometheus text; rejects when the state behind the gauges cannot be read. */
  metrics: () => Promise<{ contentType: string; body: string }>;
}

function releaseView(r: VerifiedRelease | undefined) {
  if (r === undefined) return null;
  return {
    fleetResolvedHash: r.fleet.verified.sha256,
    signedAt: r.fleet.verified.signedAt,
    ciCommit: r.fleet.verified.inner.meta.ciCommit,
    rollouts: [...r.manifests.keys()],
    loadedAt: r.loadedAt.toISOString(),
  };
}

function refusalView(r: ReleaseRefusal | undefined) {
  return r === undefined ? null : { code: r.code, file: r.file, detail: r.detail, at: r.at.toISOString() };
}

export function createHealthRoutes(options: HealthRoutesOptions): Hono<CpEnv> {
  const app = new Hono<CpEnv>();
  app.get('/healthz', (c) =>
    c.json({ ok: true, version: options.version, last_tick_at: options.lastTickAt()?.toISOString() ?? null }),
  );
  app.get('/readyz', (c) => {
    const r = options.readiness();
    // The refusal of the latest poll is shown either way: a CP can be ready on its last good set
    // while refusing a newer, bad one, and operators need to see that.
    const extra = {
      release: releaseView(options.release()),
      lastRefusal: refusalView(options.lastRefusal()),
    };
    if (r.ready) return c.json({ ready: true, ...extra }, 200);
    c.header('Retry-After', String(RETRY_AFTER_SECONDS));
    return c.json({ ready: false, reason: r.reason, ...extra }, 503);
  });
  app.get('/metrics', async (c) => {
    try {
      const m = await options.metrics();
      return c.body(m.body, 200, { 'content-type': m.contentType });
    } catch {
      return jsonError(
        c,
        503,
        'store_unavailable',
        'the metrics state cannot be read (database unavailable); retry',
      );
    }
  });
  return app;
}
