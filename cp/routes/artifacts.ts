// The verified release as agents fetch it (spec §5.3): `/v1/fleet.resolved(/sig)` and
// `/v1/rollouts/{id}(/sig)`, served from the in-memory verified set only — never re-read from disk
// and never a file the CP did not verify itself (§10.2 P15). `/v1/channels/{name}` reads the same.
import { type Context, Hono } from 'hono';
import { isPathSafeRolloutId } from '../../proto/index.ts';
import { jsonError } from '../identity/index.ts';
import type { VerifiedRelease } from '../releaseSource/index.ts';
import type { CpEnv } from './shared.ts';

export interface ArtifactRoutesOptions {
  release: () => VerifiedRelease | undefined;
}

const bytes = (b: Uint8Array, type: string) =>
  new Response(b.slice(), { status: 200, headers: { 'content-type': type } });

export function createArtifactRoutes(options: ArtifactRoutesOptions): Hono<CpEnv> {
  const app = new Hono<CpEnv>();
  const notPrimed = (c: Context<CpEnv>) =>
    jsonError(c, 503, 'not_ready', 'no verified release is loaded yet; retry');

  app.get('/v1/fleet.resolved', (c) => {
    const r = options.release();
    return r === undefined ? notPrimed(c) : bytes(r.fleet.bytes, 'application/json');
  });
  app.get('/v1/fleet.resolved/sig', (c) => {
    const r = options.release();
    return r === undefined ? notPrimed(c) : bytes(r.fleet.signature, 'application/octet-stream');
  });

  const manifest = (c: Context<CpEnv>, sig: boolean) => {
    const r = options.release();
    if (r === undefined) return notPrimed(c);
    const id = c.req.param('id') ?? '';
    if (!isPathSafeRolloutId(id)) {
      return jsonError(
        c,
        404,
        'unknown_rollout',
        `${JSON.stringify(id)} is not a rollout id (<channel>@<ref>)`,
      );
    }
    const m = r.manifests.get(id);
    if (m === undefined)
      return jsonError(c, 404, 'unknown_rollout', `the verified release has no manifest ${id}`);
    return sig ? bytes(m.signature, 'application/octet-stream') : bytes(m.bytes, 'application/json');
  };
  app.get('/v1/rollouts/:id/sig', (c) => manifest(c, true));
  app.get('/v1/rollouts/:id', (c) => manifest(c, false));

  app.get('/v1/channels/:name', (c) => {
    const r = options.release();
    if (r === undefined) return notPrimed(c);
    const name = c.req.param('name');
    const fleet = r.fleet.verified.inner;
    const channel = fleet.channels[name];
    if (channel === undefined)
      return jsonError(c, 404, 'unknown_channel', `the verified fleet has no channel ${name}`);
    return c.json({
      name,
      declared_ci_commit: fleet.meta.ciCommit,
      signed_at: fleet.meta.signedAt,
      freshness_window_minutes: channel.freshnessWindow,
    });
  });
  return app;
}
