// Timestamp arithmetic on RFC 3339 strings. Pure: charts compare times carried by events, never the
// wall clock (spec §0.4, §2 "transitions stamp event-supplied timestamps").

/** Milliseconds since the epoch; throws on a string that is not a timestamp (a bug past zod). */
export function toMillis(ts: string): number {
  const ms = Date.parse(ts);
  if (Number.isNaN(ms)) throw new Error(`not an RFC 3339 timestamp: ${JSON.stringify(ts)}`);
  return ms;
}

export function isAtOrAfter(a: string, b: string): boolean {
  return toMillis(a) >= toMillis(b);
}

export function addMinutes(ts: string, minutes: number): string {
  return new Date(toMillis(ts) + minutes * 60_000).toISOString();
}

export function addSeconds(ts: string, seconds: number): string {
  return new Date(toMillis(ts) + seconds * 1000).toISOString();
}
