// HTTP face of enrollment: `POST /v1/enroll` (anonymous; the token is the credential) and
// `POST /v1/agent/renew` (behind the identity middleware). Handlers only translate: JSON in,
// service outcome out, every refusal as `{error, detail}`.
import { type Context, Hono, type MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { type IdentityEnv, jsonError } from '../identity/index.ts';
import type { EnrollmentOutcome, EnrollmentService } from './enrollmentService.ts';

/** A CSR, a token and a proof fit in a few kilobytes; the schemas cap each field well below this. */
export const MAX_BODY_BYTES = 64 * 1024;

export interface EnrollmentRoutesOptions {
  service: EnrollmentService;
  /** `require_cn`; the CP passes the same instance it puts in front of every other mTLS route. */
  requireIdentity: MiddlewareHandler<IdentityEnv>;
  /** Where service failures (database, CA) are reported; they become a bare 500 for the caller. */
  onError?: (error: unknown) => void;
}

export function createEnrollmentRoutes(options: EnrollmentRoutesOptions): Hono<IdentityEnv> {
  const app = new Hono<IdentityEnv>();
  const answer = (c: Context<IdentityEnv>, outcome: EnrollmentOutcome): Response =>
    outcome.ok
      ? c.json(outcome.response, 200)
      : jsonError(c, outcome.refusal.status, outcome.refusal.error, outcome.refusal.detail);

  /** Undefined when the body is not JSON; the service's zod schema then gives the 400. */
  const jsonBody = async (req: Request): Promise<unknown> => {
    try {
      return (await req.json()) as unknown;
    } catch {
      return undefined;
    }
  };

  const guarded =
    (run: (c: Context<IdentityEnv>) => Promise<EnrollmentOutcome>) =>
    async (c: Context<IdentityEnv>): Promise<Response> => {
      try {
        return answer(c, await run(c));
      } catch (error) {
        options.onError?.(error);
        return jsonError(
          c,
          500,
          'internal',
          'the certificate could not be issued; nothing was consumed, retry later',
        );
      }
    };

  // `/v1/enroll` is anonymous: cap what an unauthenticated caller can make the CP buffer and parse.
  const limit = bodyLimit({
    maxSize: MAX_BODY_BYTES,
    onError: (c) =>
      jsonError(
        c,
        413,
        'malformed_request',
        `the body exceeds ${MAX_BODY_BYTES} bytes; send one CSR, token and proof`,
      ),
  });

  app.post(
    '/v1/enroll',
    limit,
    guarded(async (c) => options.service.enroll(await jsonBody(c.req.raw))),
  );
  app.post(
    '/v1/agent/renew',
    options.requireIdentity,
    limit,
    guarded(async (c) => options.service.renew(c.get('identity'), await jsonBody(c.req.raw))),
  );
  return app;
}
