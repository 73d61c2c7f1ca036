// Pure record updates and invariant checks shared by the chart's guards and actions (and by the
// step function, which needs the invariant's reason when the guard refuses).
import type { AgentEventOf } from '../../proto/agentEvent.ts';
import { isAtOrAfter } from '../common/time.ts';
import type { HostRolloutContext, ProbeRecord } from './context.ts';

/** ProbeResult update rule (spec §2.2), plus a per-probe failure streak (spec §10 G10). */
export function applyProbeResult(
  probes: HostRolloutContext['probes'],
  result: Omit<AgentEventOf<'ProbeResult'>, 'kind'>,
): HostRolloutContext['probes'] {
  const prev = probes[result.probeName];
  const passed = result.status === 'pass';
  const next: ProbeRecord = {
    status: result.status,
    mode: result.mode,
    lastObservedAt: result.observedAt,
    lastPassAt: passed ? result.observedAt : (prev?.lastPassAt ?? null),
    failureReason: passed ? null : result.failureReason,
    failingSince: passed
      ? null
      : prev?.status === 'fail' && prev.failingSince !== null
        ? prev.failingSince
        : result.observedAt,
  };
  return { ...probes, [result.probeName]: next };
}

export type ConvergedInvariant =
  | 'closure-mismatch'
  | 'before-soak-due'
  | 'enforce-probe-failing'
  | 'enforce-probe-unobserved';

export interface InvariantViolation {
  invariant: ConvergedInvariant;
  message: string;
}

/**
 * The Converged invariants (spec §2.7), in the spec's order, plus G9: every enforce probe the
 * agent declared after activation must have reported at least once (the probe map is cleared on
 * activation completion, so any record in it is post-activation).
 */
export function convergedInvariantViolation(
  ctx: HostRolloutContext,
  event: { currentClosure: string; convergedAt: string },
): InvariantViolation | null {
  if (event.currentClosure !== ctx.targetClosure) {
    return {
      invariant: 'closure-mismatch',
      message: `converged closure ${event.currentClosure} is not the target ${ctx.targetClosure}`,
    };
  }
  if (ctx.soakDueAt !== null && !isAtOrAfter(event.convergedAt, ctx.soakDueAt)) {
    return {
      invariant: 'before-soak-due',
      message: `convergedAt ${event.convergedAt} is before soakDueAt ${ctx.soakDueAt}`,
    };
  }
  const failing = Object.entries(ctx.probes)
    .filter(([, p]) => p.mode === 'enforce' && p.status !== 'pass')
    .map(([name]) => name)
    .sort();
  if (failing.length > 0) {
    return {
      invariant: 'enforce-probe-failing',
      message: `enforce probe(s) not passing: ${failing.join(', ')}`,
    };
  }
  const unobserved = (ctx.declaredProbes ?? [])
    .filter((p) => p.mode === 'enforce' && ctx.probes[p.probeName] === undefined)
    .map((p) => p.probeName)
    .sort();
  if (unobserved.length > 0) {
    return {
      invariant: 'enforce-probe-unobserved',
      message: `declared enforce probe(s) have no result since activation: ${unobserved.join(', ')}`,
    };
  }
  return null;
}

/** Names of enforce probes currently failing: the sustained-failure candidates. */
export function failingEnforceProbes(ctx: HostRolloutContext): string[] {
  return Object.entries(ctx.probes)
    .filter(([, p]) => p.mode === 'enforce' && p.status === 'fail')
    .map(([name]) => name)
    .sort();
}
