// Every error body is `{error, detail}` (contract §4): a stable code for programs and a sentence for
// the operator saying what to do next.
import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';

/** Seconds a client should wait before retrying a 503 (spec §5.2's `Retry-After: 30`). */
export const RETRY_AFTER_SECONDS = 30;

export function jsonError(c: Context, status: ContentfulStatusCode, error: string, detail: string): Response {
  if (status === 503) c.header('Retry-After', String(RETRY_AFTER_SECONDS));
  return c.json({ error, detail }, status);
}
