// Disruption budget (spec §4.5.5, §10 G14, G17). A budget caps the hosts of its group that may be
// in flight at once across every current rollout: in flight (Activating ∪ Soaking) or holding a
// dispatch not yet acknowledged, plus the hosts this tick has already dispatched. Its limit is the
// tighter of maxInFlight and maxInFlightPct of the group (see `effectiveLimit`). The rollout
// policy's own maxInFlight/maxInFlightPct (contract §3) caps the rollout the same way.
import { blockOf, type Gate } from './gate.ts';

export const disruptionBudgetGate: Gate = (view, c, tick) => {
  const rollout = view.planned.get(c.rolloutId);
  if (rollout === undefined) return null;
  // A host whose dispatch is still outstanding already holds its slot; queueing it again adds none.
  if (rollout.slots.has(c.hostname)) return null;
  for (const budget of rollout.budgets) {
    if (budget.limit === null) continue;
    if (budget.hosts !== null && !budget.hosts.has(c.hostname)) continue;
    const total = (view.occupancy.get(budget.key) ?? 0) + (tick.budgets.get(budget.key) ?? 0);
    if (total >= budget.limit) {
      return blockOf(
        c,
        'disruption-budget',
        `disruption-budget: ${total}/${budget.limit} in flight (${budget.label})`,
      );
    }
  }
  return null;
};
