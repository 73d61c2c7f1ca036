// Public door of the planner (spec §4): pure plan ticks and the dispatch gates. The CP daemon loads
// the input in one read, calls `planNext`, and applies the actions; heartbeat synthesis asks
// `evaluateHostForDispatch`.
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
