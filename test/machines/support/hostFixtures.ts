// Shared fixtures for the host-rollout chart tests: the spec §9.1 setup and event builders.
import { expect } from 'vitest';
import {
  createHostRollout,
  type HostEffect,
  type HostRolloutEvent,
  type HostRolloutInput,
  type HostRolloutSnapshot,
  type LocalEvent,
  stepHostRollout,
} from '../../../machines/index.ts';
import type { OnHealthFailure } from '../../../proto/index.ts';

export const T0 = '2026-05-16T01:00:00Z';

/** T0 plus the given seconds, as an RFC 3339 string. */
export const at = (seconds: number): string => new Date(Date.parse(T0) + seconds * 1000).toISOString();

export const TARGET = 'target-closure-abc';
export const PRIOR = 'prior-closure';

/** `new_pending("r1", "web-01", "stable", target, t0, t0+5m)` of spec §9.1. */
export function pendingRecord(overrides: Partial<HostRolloutInput> = {}): HostRolloutSnapshot {
  return createHostRollout({
    rolloutId: 'stable@r1',
    hostname: 'web-01',
    channel: 'stable',
    targetClosure: TARGET,
    dispatchedAt: T0,
    soakDueAt: at(300),
    onHealthFailure: 'halt',
    ...overrides,
  });
}

export const ev = {
  activate: (seq: number, cc: string | null = PRIOR, receivedAt = at(1)): LocalEvent => ({
    type: 'LocalActivate',
    seq,
    currentClosureAtDispatch: cc,
    receivedAt,
    targetClosure: TARGET,
    soakDueAt: at(300),
  }),
  started: (seq: number, startedAt = at(2)): LocalEvent => ({
    type: 'LocalActivationStarted',
    seq,
    startedAt,
    switchMethod: 'switch',
  }),
  completed: (seq: number, observed = TARGET, completedAt = at(30)): LocalEvent => ({
    type: 'LocalActivationCompleted',
    seq,
    observedCurrentClosure: observed,
    exitCode: 0,
    completedAt,
  }),
  deferred: (seq: number, component = 'systemd', deferredAt = at(30)): LocalEvent => ({
    type: 'LocalActivationDeferred',
    seq,
    component,
    deferredAt,
  }),
  activationFailed: (seq: number, failedAt = at(40)): LocalEvent => ({
    type: 'LocalActivationFailed',
    seq,
    exitCode: 1,
    stderrTail: 'switch failed',
    failedAt,
  }),
  topology: (
    seq: number,
    probes: { probeName: string; mode: 'enforce' | 'observe' | 'disabled' }[],
  ): LocalEvent => ({
    type: 'LocalProbeTopologyDeclared',
    seq,
    probes: probes.map((p) => ({ ...p, kind: 'command' })),
    declaredAt: at(31),
  }),
  observedFirst: (seq: number, probeName = 'nginx', observedAt = at(35)): LocalEvent => ({
    type: 'LocalProbeObservedFirst',
    seq,
    probeName,
    mode: 'enforce',
    observedAt,
  }),
  probe: (
    seq: number,
    probeName: string,
    status: 'pass' | 'fail',
    mode: 'enforce' | 'observe' | 'disabled' = 'enforce',
    observedAt = at(40),
  ): LocalEvent => ({
    type: 'LocalProbeResult',
    seq,
    probeName,
    mode,
    status,
    observedAt,
    failureReason: status === 'fail' ? `${probeName} failed` : null,
    subResults: null,
  }),
  failureFirst: (seq: number, probeName = 'nginx', firstFailedAt = at(45)): LocalEvent => ({
    type: 'LocalProbeFailureFirst',
    seq,
    probeName,
    mode: 'enforce',
    firstFailedAt,
  }),
  sustained: (seq: number, policyApplied: OnHealthFailure, failedAt = at(125)): LocalEvent => ({
    type: 'LocalSustainedFailureCrossed',
    seq,
    failedAt,
    sustainedDurationSecs: 60,
    failingProbes: ['nginx-version'],
    policyApplied,
  }),
  converged: (seq: number, currentClosure = TARGET, convergedAt = at(360)): LocalEvent => ({
    type: 'LocalConvergedReached',
    seq,
    convergedAt,
    currentClosure,
  }),
  rolledBack: (seq: number, closure = PRIOR, completedAt = at(200)): LocalEvent => ({
    type: 'LocalRollbackCompleted',
    seq,
    revertedToClosure: closure,
    exitCode: 0,
    completedAt,
  }),
  rollbackFailed: (seq: number, failedAt = at(200)): LocalEvent => ({
    type: 'LocalRollbackFailed',
    seq,
    closure: PRIOR,
    exitCode: 4,
    stderrTail: 'no such profile',
    failedAt,
  }),
};

/** Steps every event, failing the test on the first refusal; returns the last snapshot and all effects. */
export function drive(
  snapshot: HostRolloutSnapshot,
  events: readonly HostRolloutEvent[],
): { snapshot: HostRolloutSnapshot; effects: HostEffect[]; last: HostEffect[] } {
  let current = snapshot;
  const effects: HostEffect[] = [];
  let last: HostEffect[] = [];
  for (const event of events) {
    const r = stepHostRollout(current, event);
    if (!r.ok) expect.fail(`${event.type} (seq ${event.seq}) refused: ${JSON.stringify(r.error)}`);
    current = r.snapshot;
    last = r.effects;
    effects.push(...r.effects);
  }
  return { snapshot: current, effects, last };
}
