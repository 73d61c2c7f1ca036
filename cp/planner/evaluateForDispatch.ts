// `evaluate_for_dispatch` (spec §4.4): the gates in order, first block wins. The planner calls it
// for every Pending host; heartbeat synthesis calls it before taking a Pending record to Converged
// (spec §4.6), so both answer the same question the same way.

import { channelEdgeGate } from './gates/channelEdgeGate.ts';
import { complianceWaveGate } from './gates/complianceWaveGate.ts';
import { disruptionBudgetGate } from './gates/disruptionBudgetGate.ts';
import { type DispatchCandidate, EMPTY_TICK, type Gate, type TickLedger } from './gates/gate.ts';
import { hostBusyGate } from './gates/hostBusyGate.ts';
import { hostEdgeGate } from './gates/hostEdgeGate.ts';
import { quarantineGate } from './gates/quarantineGate.ts';
import { rolloutHaltedGate } from './gates/rolloutHaltedGate.ts';
import { wavePromotionGate } from './gates/wavePromotionGate.ts';
import { buildPlanView, type PlanView } from './planView.ts';
import type { GateBlock, PlannerInput } from './types.ts';

/**
 * Spec §4.4's six gates in their order, with the halt gate of §10 G19 in front (the root cause
 * first) and the one-dispatch-per-host check last (it only meets hosts every other gate let pass).
 */
export const GATE_ORDER: readonly Gate[] = [
  rolloutHaltedGate,
  quarantineGate,
  channelEdgeGate,
  wavePromotionGate,
  hostEdgeGate,
  disruptionBudgetGate,
  complianceWaveGate,
  hostBusyGate,
];

export function evaluateForDispatch(
  view: PlanView,
  candidate: DispatchCandidate,
  tick: TickLedger = EMPTY_TICK,
): GateBlock | null {
  for (const gate of GATE_ORDER) {
    const block = gate(view, candidate, tick);
    if (block !== null) return block;
  }
  return null;
}

/**
 * Heartbeat synthesis' question (spec §4.6): may this host's Pending record move on now? Nothing to
 * evaluate against — no current rollout, no record — is a block, not a pass (the spec's
 * [RECOMMEND]; the original let such records through). The view includes this tick's wave advance,
 * so the answer is the one the next plan tick would give.
 */
export function evaluateHostForDispatch(
  input: PlannerInput,
  rolloutId: string,
  hostname: string,
): GateBlock | null {
  const view = buildPlanView(input);
  const record = view.planned.get(rolloutId)?.records.get(hostname);
  if (record === undefined) {
    return {
      host: hostname,
      rolloutId,
      gate: 'no-plan-state',
      reason: `no-plan-state: ${rolloutId} is not the current opened rollout of its channel or has no record for ${hostname}`,
    };
  }
  return evaluateForDispatch(view, record);
}
