// Retry pacing of the drainer (spec §10 G5: exponential backoff on 5xx and transport errors instead
// of the original's fixed 15 s head-of-line retry).

export interface BackoffOptions {
  /** Delay before the first retry, ms. Default 1 s. */
  initialMs?: number;
  /** Ceiling of the delay, ms. Default 5 min: a CP back from an outage hears from every agent soon. */
  maxMs?: number;
  /** Growth per consecutive failure. Default 2. */
  factor?: number;
}

/**
 * Delay after the `attempt`-th consecutive failure (1-based): "equal jitter", half fixed and half
 * random, so a fleet that lost the CP at the same moment does not come back in lockstep while each
 * agent still waits at least half the nominal delay.
 */
export function backoffDelayMs(attempt: number, random: () => number, options: BackoffOptions = {}): number {
  const initial = options.initialMs ?? 1_000;
  const max = options.maxMs ?? 300_000;
  const factor = options.factor ?? 2;
  const nominal = Math.min(max, initial * factor ** Math.max(0, attempt - 1));
  const r = Math.min(1, Math.max(0, random()));
  return Math.round(nominal / 2 + (nominal / 2) * r);
}
