// Plumbing shared by the CP's routes: the Hono env, caller identity in both transport modes, and
// JSON bodies that never turn bad input into a 500 (contract §4).
import type { Context } from 'hono';
import type { z } from 'zod';
import { issuesFromZod } from '../../proto/index.ts';
import { hostMismatch, type Identity, type IdentityEnv, jsonError } from '../identity/index.ts';

export type CpEnv = IdentityEnv;

/**
 * How agents prove who they are. `mtls`: the identity middleware ran and put the verified CN on
 * the context (spec §5.1). `insecure`: `--insecure-http` on loopback only (contract §2) — the
 * hostname the request names is taken on trust.
 */
export type AgentAuthMode = 'mtls' | 'insecure';

/** 403 unless the caller may act as `hostname` (events, heartbeat); undefined when it may. */
export function refuseUnlessCaller(
  c: Context<CpEnv>,
  mode: AgentAuthMode,
  hostname: string,
): Response | undefined {
  return mode === 'insecure' ? undefined : hostMismatch(c, hostname);
}

export function callerIdentity(c: Context<CpEnv>): Identity | undefined {
  return c.get('identity') as Identity | undefined;
}

export type BodyResult<T> = { ok: true; value: T } | { ok: false; response: Response };

/** Reads a JSON body and validates it; 400 `malformed_json` / `invalid_body` naming the field. */
export async function jsonBody<S extends z.ZodType>(
  c: Context<CpEnv>,
  schema: S,
): Promise<BodyResult<z.output<S>>> {
  let raw: unknown;
  try {
    const text = await c.req.text();
    raw = JSON.parse(text) as unknown;
  } catch {
    return {
      ok: false,
      response: jsonError(c, 400, 'malformed_json', 'the body is not JSON; send application/json'),
    };
  }
  const parsed = schema.safeParse(raw, { reportInput: true });
  if (parsed.success) return { ok: true, value: parsed.data };
  const issues = issuesFromZod(parsed.error).slice(0, 5);
  const detail = issues.map((i) => `${i.path}: ${i.message}`).join('; ');
  return {
    ok: false,
    response: jsonError(c, 400, 'invalid_body', detail || 'the body does not match the schema'),
  };
}

/**
 * A failure of the database rather than a bug: drizzle's wrapped query errors, server errors
 * (SQLSTATE), and postgres.js/Node connection errors all carry a string `code` somewhere in
 * their cause chain.
 */
export function isDatabaseError(error: unknown): boolean {
  for (let e: unknown = error, depth = 0; e instanceof Error && depth < 5; depth++) {
    if (e.name === 'DrizzleQueryError' || typeof (e as { code?: unknown }).code === 'string') return true;
    e = e.cause;
  }
  return false;
}
