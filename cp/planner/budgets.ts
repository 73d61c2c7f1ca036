// Disruption-budget arithmetic (spec §4.5.5): budget identity across rollouts and the effective
// concurrency limit of a budget.
import type { Selector } from '../../proto/index.ts';

const sortedUnique = (xs: readonly string[]): string[] => [...new Set(xs)].sort();

/**
 * Identity of a budget across rollouts: its selector by structure, with lists compared as sets
 * (they are ORed or ANDed, so order and repeats mean nothing). The spec keys by selector value, not
 * by the summary string, which can collide (spec §1.6 [RECOMMEND]).
 */
export function budgetKeyOf(selector: Selector): string {
  return JSON.stringify([
    selector.all,
    selector.channel,
    sortedUnique(selector.tags),
    sortedUnique(selector.tagsAny),
    sortedUnique(selector.hosts),
  ]);
}

/** Tick-ledger key of a rollout policy's own concurrency cap (contract §3), apart from budgets. */
export function policyCapKeyOf(rolloutId: string): string {
  return `policy\u0000${rolloutId}`;
}

/**
 * The most hosts a budget lets be in flight at once, or null when it sets no limit. `maxInFlightPct`
 * counts against the budget's resolved host list, rounds up and never goes below one, so a small
 * percentage of a small group still lets a host through; with both set the tighter wins
 * (spec §4.5.5 [RECOMMEND], §10 G14). `maxInFlight: 0` freezes the group.
 */
export function effectiveLimit(
  maxInFlight: number | null,
  maxInFlightPct: number | null,
  groupSize: number,
): number | null {
  const byPct =
    maxInFlightPct === null ? null : Math.max(1, Math.floor((maxInFlightPct * groupSize + 99) / 100));
  if (maxInFlight === null) return byPct;
  return byPct === null ? maxInFlight : Math.min(maxInFlight, byPct);
}
