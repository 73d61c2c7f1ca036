// The advance ticker's decision for one host-rollout record (spec §2.8, §6.4 `AgentAdvanceTick`).
// Pure: the ticker passes the record and the time; the reducer numbers and steps the event.
//
// Fail gate first (the two are exclusive anyway: a failing enforce probe blocks convergence):
//   Soaking ∧ some enforce probe has failed continuously for ≥ the threshold
//     → LocalSustainedFailureCrossed{failedAt: now, sustainedDurationSecs, failingProbes, policyApplied}
//   The streak is per probe (`failingSince`, cleared by a pass — spec §10 G10), not the record's
//   `probeFailureFirstAt`, which is never cleared: a probe that failed once, recovered and fails
//   again much later must not trip the threshold on its first new failure.
// Pass gate:
//   Soaking ∧ soakDueAt set ∧ now ≥ soakDueAt ∧ the chart's Converged invariants hold (current =
//   target, every enforce probe passing, every declared enforce probe observed — G9)
//     → LocalConvergedReached{convergedAt: now, currentClosure}
// The invariants are the chart's own `convergedInvariantViolation`, so the ticker never proposes a
// convergence the chart would refuse.
import {
  type ConvergedInvariant,
  convergedInvariantViolation,
  failingEnforceProbes,
  type HostRolloutSnapshot,
  hostStateOf,
  type LocalEventOf,
  toMillis,
} from '../../machines/index.ts';
import type { OnHealthFailure } from '../../proto/index.ts';

/** The original's hardcoded threshold (spec §2.8); policies may set their own `sustainedFailure`. */
export const DEFAULT_SUSTAINED_FAILURE_MS = 120_000;

export interface AdvanceDecisionOptions {
  now: Date;
  /** The rollout policy's `sustainedFailure`, ms. Default 120 s. */
  sustainedFailureMs?: number;
  /** The manifest policy's `onHealthFailure`, carried by the Failed event (spec §2.8: default halt). */
  onHealthFailure: OnHealthFailure;
}

export type AdvanceWaitReason =
  | 'not-soaking'
  /** No `soakDueAt`: the original's pass gate requires one (the CP always sets it, spec §2.8). */
  | 'no-soak-deadline'
  | 'soak-not-due'
  /** An enforce probe fails, but no streak has reached the threshold yet. */
  | 'failure-not-sustained'
  | Exclude<ConvergedInvariant, 'before-soak-due' | 'enforce-probe-failing'>;

export type AdvanceDecision =
  | { event: LocalEventOf<'Converged'> }
  | { event: LocalEventOf<'Failed'> }
  | { event: null; waiting: AdvanceWaitReason };

export function decideAdvance(
  snapshot: HostRolloutSnapshot,
  options: AdvanceDecisionOptions,
): AdvanceDecision {
  if (hostStateOf(snapshot) !== 'Soaking') return { event: null, waiting: 'not-soaking' };
  const ctx = snapshot.context;
  const nowMs = options.now.getTime();
  const nowIso = options.now.toISOString();
  const threshold = options.sustainedFailureMs ?? DEFAULT_SUSTAINED_FAILURE_MS;

  const streaksMs = Object.values(ctx.probes)
    .filter((p) => p.mode === 'enforce' && p.status === 'fail' && p.failingSince !== null)
    .map((p) => nowMs - toMillis(p.failingSince as string));
  const longest = Math.max(-1, ...streaksMs);
  if (longest >= threshold) {
    return {
      event: {
        type: 'LocalSustainedFailureCrossed',
        failedAt: nowIso,
        sustainedDurationSecs: Math.floor(longest / 1000),
        failingProbes: failingEnforceProbes(ctx),
        policyApplied: options.onHealthFailure,
        seq: 0,
      },
    };
  }
  if (failingEnforceProbes(ctx).length > 0) return { event: null, waiting: 'failure-not-sustained' };

  if (ctx.soakDueAt === null) return { event: null, waiting: 'no-soak-deadline' };
  if (nowMs < toMillis(ctx.soakDueAt)) return { event: null, waiting: 'soak-not-due' };
  if (ctx.currentClosure === null) return { event: null, waiting: 'closure-mismatch' };
  const violation = convergedInvariantViolation(ctx, {
    currentClosure: ctx.currentClosure,
    convergedAt: nowIso,
  });
  if (violation !== null) {
    // before-soak-due and enforce-probe-failing were ruled out above with the same inputs.
    return { event: null, waiting: violation.invariant as AdvanceWaitReason };
  }
  return {
    event: { type: 'LocalConvergedReached', convergedAt: nowIso, currentClosure: ctx.currentClosure, seq: 0 },
  };
}
