// Public door of the planner (spec §4): pure plan ticks and the dispatch gates.
//
// Wiring (spec §7.7-7.8): load a `PlannerInput` in one REPEATABLE READ transaction — including the
// `quarantined_closures` table (§10 G1) and the outstanding `dispatch_queue` rows — call `planNext`,
// and apply the actions in the order given:
//   Notice            log it (the operator must fix the release); nothing else.
//   OpenRollout       insert the rollout row and its Pending records from the manifest (§7.8).
//   RolloutEvent      feed the event to the rollout actor: WaveAdvanced moves `currentWave` through
//                     the chart (§10 G18), SuccessorOpened goes to the superseded rollout.
//   QueueDispatch     upsert the queue row (enqueued_at = now) and wake the host's long-poll.
//   DeferDispatch     log a gate_decision (only when it changed) and count
//                     `nixfleet_gate_block_total{gate}`.
//   WithdrawDispatch  delete the queue row if it is still there, and forget the dispatch.
// Heartbeat synthesis asks `evaluateHostForDispatch` (or, to reuse one tick's view for many hosts,
// `evaluateForDispatch` on a `buildPlanView`).
export { budgetKeyOf, effectiveLimit, policyCapKeyOf } from './budgets.ts';
export { evaluateForDispatch, evaluateHostForDispatch, GATE_ORDER } from './evaluateForDispatch.ts';
export { channelEdgeGate } from './gates/channelEdgeGate.ts';
export { complianceWaveGate } from './gates/complianceWaveGate.ts';
export { disruptionBudgetGate } from './gates/disruptionBudgetGate.ts';
export { type DispatchCandidate, EMPTY_TICK, type Gate, type TickLedger } from './gates/gate.ts';
export { hostBusyGate } from './gates/hostBusyGate.ts';
export { hostEdgeGate } from './gates/hostEdgeGate.ts';
export { quarantineGate } from './gates/quarantineGate.ts';
export { rolloutHaltedGate } from './gates/rolloutHaltedGate.ts';
export { hostWaveOf, wavePromotionGate } from './gates/wavePromotionGate.ts';
export { openPhase } from './openRollouts.ts';
export { planNext } from './planNext.ts';
export {
  buildPlanView,
  type HaltCause,
  type PlannedRollout,
  type PlanView,
  type ResolvedBudget,
} from './planView.ts';
export * from './types.ts';
