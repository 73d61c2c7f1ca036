// Durations as operators write them (contract §2: "Durations accept ms, s, m, h, d suffixes
// everywhere"). One parser, so a flag, an env var and a config file all mean the same thing.

const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

export type DurationError = { code: 'InvalidDuration'; input: string; message: string };

/**
 * `"90s"`, `"1h"`, `"1500ms"`, `"1.5h"` → milliseconds. A bare number is refused: a unit-less
 * duration is ambiguous (the original mixes seconds and minutes across flags).
 */
export function parseDuration(input: string): { ok: true; ms: number } | { ok: false; error: DurationError } {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$/.exec(input);
  const amount = match?.[1];
  const unit = match?.[2] as keyof typeof UNIT_MS | undefined;
  if (amount === undefined || unit === undefined) {
    return {
      ok: false,
      error: {
        code: 'InvalidDuration',
        input,
        message: `"${input}" is not a duration: write a number and a unit (ms, s, m, h, d), e.g. "30s" or "1h"`,
      },
    };
  }
  const ms = Math.round(Number(amount) * UNIT_MS[unit]);
  if (!Number.isSafeInteger(ms)) {
    return {
      ok: false,
      error: { code: 'InvalidDuration', input, message: `"${input}" is too long a duration` },
    };
  }
  return { ok: true, ms };
}
