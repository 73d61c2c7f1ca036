// Records and Remote events for the recovery tests: the spec §9.6 harness (rollout
// `stable@stable-rollout`, host h1) and a driver that steps events the way the CP's host actor does.
import { expect } from 'vitest';
import {
  createHostRollout,
  type HostEffect,
  type HostRolloutInput,
  type HostRolloutSnapshot,
  type RemoteEvent,
  stepHostRollout,
} from '../../../machines/index.ts';
import type { OnHealthFailure } from '../../../proto/index.ts';

export const T0 = '2026-05-16T01:00:00.000Z';
/** T0 plus the given seconds. */
export const at = (seconds: number): string => new Date(Date.parse(T0) + seconds * 1000).toISOString();

export const ROLLOUT = 'stable@stable-rollout';
export const HOST = 'h1';
export const TARGET = 'target-closure-h1';
export const PRIOR = 'previous-closure';

export function pending(overrides: Partial<HostRolloutInput> = {}): HostRolloutSnapshot {
  return createHostRollout({
    rolloutId: ROLLOUT,
    hostname: HOST,
    channel: 'stable',
    targetClosure: TARGET,
    dispatchedAt: T0,
    soakDueAt: at(300),
    onHealthFailure: 'halt',
    ...overrides,
  });
}

/** Remote mirrors of the agent's wire events, as the events route would feed them. */
export const remote = {
  ack: (seq: number, cc: string | null = PRIOR, receivedAt = at(1)): RemoteEvent => ({
    type: 'RemoteDispatchAck',
    seq,
    currentClosureAtDispatch: cc,
    receivedAt,
  }),
  started: (seq: number, startedAt = at(2)): RemoteEvent => ({
    type: 'RemoteActivationStarted',
    seq,
    startedAt,
    switchMethod: 'switch-to-configuration',
  }),
  completed: (seq: number, observed = TARGET, completedAt = at(30)): RemoteEvent => ({
    type: 'RemoteActivationCompleted',
    seq,
    observedCurrentClosure: observed,
    exitCode: 0,
    completedAt,
  }),
  deferred: (seq: number, deferredAt = at(30)): RemoteEvent => ({
    type: 'RemoteActivationDeferred',
    seq,
    component: 'systemd',
    deferredAt,
  }),
  activationFailed: (seq: number, failedAt = at(40)): RemoteEvent => ({
    type: 'RemoteActivationFailed',
    seq,
    exitCode: 1,
    stderrTail: 'switch failed',
    failedAt,
  }),
  topology: (seq: number, declaredAt = at(31)): RemoteEvent => ({
    type: 'RemoteProbeTopologyDeclared',
    seq,
    probes: [{ probeName: 'http', kind: 'command', mode: 'enforce' }],
    declaredAt,
  }),
  probe: (seq: number, status: 'pass' | 'fail', observedAt = at(40)): RemoteEvent => ({
    type: 'RemoteProbeResult',
    seq,
    probeName: 'http',
    mode: 'enforce',
    status,
    observedAt,
    failureReason: status === 'fail' ? 'http 503' : null,
    subResults: null,
  }),
  failed: (seq: number, policyApplied: OnHealthFailure, failedAt = at(200)): RemoteEvent => ({
    type: 'RemoteFailed',
    seq,
    failedAt,
    sustainedDurationSecs: 120,
    failingProbes: ['http'],
    policyApplied,
  }),
  converged: (seq: number, convergedAt = at(360), closure = TARGET): RemoteEvent => ({
    type: 'RemoteConverged',
    seq,
    convergedAt,
    currentClosure: closure,
  }),
  rolledBack: (seq: number, closure = PRIOR, completedAt = at(220)): RemoteEvent => ({
    type: 'RemoteRollbackComplete',
    seq,
    revertedToClosure: closure,
    exitCode: 0,
    completedAt,
  }),
};

/** Steps every event, failing the test on the first refusal. */
export function drive(snapshot: HostRolloutSnapshot, events: readonly RemoteEvent[]): HostRolloutSnapshot {
  let current = snapshot;
  for (const event of events) {
    const r = stepHostRollout(current, event);
    if (!r.ok) expect.fail(`${event.type} (seq ${event.seq}) refused: ${JSON.stringify(r.error)}`);
    current = r.snapshot;
  }
  return current;
}

/** Records in each state the §9.6 harness and the crash scenarios start from. */
export const records = {
  pending: (o: Partial<HostRolloutInput> = {}) => pending(o),
  activating: (o: Partial<HostRolloutInput> = {}) => drive(pending(o), [remote.ack(1)]),
  deferred: (o: Partial<HostRolloutInput> = {}) => drive(pending(o), [remote.ack(1), remote.deferred(2)]),
  soaking: (o: Partial<HostRolloutInput> = {}) => drive(pending(o), [remote.ack(1), remote.completed(2)]),
  converged: (o: Partial<HostRolloutInput> = {}) =>
    drive(pending(o), [remote.ack(1), remote.completed(2), remote.converged(3)]),
  /** Soaking → Failed after sustained probe failure, under the given policy. */
  failed: (policy: OnHealthFailure, o: Partial<HostRolloutInput> = {}) =>
    drive(pending({ onHealthFailure: policy, ...o }), [
      remote.ack(1),
      remote.completed(2),
      remote.probe(3, 'fail'),
      remote.failed(4, policy),
    ]),
};

const FIRING: ReadonlySet<HostEffect['type']> = new Set(['LocalFireSwitch', 'LocalFireRollbackTo']);
/** Effects that would make the host switch closures. */
export const activatingEffects = (effects: readonly HostEffect[]): HostEffect[] =>
  effects.filter((e) => FIRING.has(e.type));

export const allowAll = (): boolean => true;
