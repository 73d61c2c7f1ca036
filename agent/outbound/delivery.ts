// What a CP answer to `POST /v1/agent/events` means for the queued event (contract §4, spec §10 G2/G5).
import type { AgentEventEnvelope } from '../../proto/index.ts';

/** An answer from the CP, or the reason there was none. Transport failures are values, not throws. */
export type SendResult =
  | {
      ok: true;
      status: number;
      /** Response headers, lower-cased names (node:http's convention). */
      headers: Readonly<Record<string, string | undefined>>;
      body?: string;
    }
  | { ok: false; error: { code: 'Transport'; message: string } };

/** Delivers one envelope. The drainer's only view of the network, injected so tests use a real server. */
export type OutboundSend = (envelope: AgentEventEnvelope) => Promise<SendResult>;

export type Delivery =
  /** 2xx: applied, or a duplicate the CP already holds (it answers 204 for both). */
  | { kind: 'delivered'; status: number }
  /** Refused for good: retrying the same bytes can never succeed, so it must not block the queue. */
  | { kind: 'dead-letter'; status: number; detail: string }
  /** The CP (or the path to it) is not able to take it now. */
  | { kind: 'retry'; status: number | null; detail: string; retryAfterMs: number | null };

/**
 * Permanent refusals (G5): 409 is the CP's chart refusing the event (illegal transition or a
 * Converged invariant, contract §4); 400/422 a body it cannot read; 410/413 never change on retry.
 * Everything else is retried: 401/403 because identity problems are fixed by enrollment or renewal
 * and dropping durable events over them would lose history; 404 because a wrong `--control-plane-url`
 * or an older CP is an operator fix, not a property of the event; 408/425/429 and 5xx by definition.
 */
const PERMANENT = new Set([400, 409, 410, 413, 422]);

export function classifyResponse(result: SendResult, nowMs: number): Delivery {
  if (!result.ok) {
    return { kind: 'retry', status: null, detail: result.error.message, retryAfterMs: null };
  }
  const { status } = result;
  if (status >= 200 && status < 300) return { kind: 'delivered', status };
  const detail = (result.body ?? '').slice(0, 1024);
  if (PERMANENT.has(status)) return { kind: 'dead-letter', status, detail };
  return {
    kind: 'retry',
    status,
    detail,
    retryAfterMs: parseRetryAfter(result.headers['retry-after'], nowMs),
  };
}

/** `Retry-After` as delay-seconds or an HTTP date (RFC 9110 §10.2.3); anything else is ignored. */
export function parseRetryAfter(value: string | undefined, nowMs: number): number | null {
  if (value === undefined) return null;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  const at = Date.parse(v);
  return Number.isNaN(at) ? null : Math.max(0, at - nowMs);
}
