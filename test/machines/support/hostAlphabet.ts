// The event alphabet for walking the host-rollout chart: every event type, numbered after the
// record's last seq and stamped with plausible times, with payload variants that reach every
// guarded branch (policies, unknown pre-dispatch closure, passing and failing probes).
import {
  HOST_EVENT_TYPES,
  type HostRolloutEvent,
  type HostRolloutEventType,
  type HostRolloutSnapshot,
} from '../../../machines/index.ts';
import { at, PRIOR, TARGET } from './hostFixtures.ts';

export function eventsOfType(type: HostRolloutEventType, seq: number): HostRolloutEvent[] {
  const t = at(600 + seq * 10);
  switch (type) {
    case 'LocalActivate':
      return [PRIOR, null].map((cc) => ({
        type,
        seq,
        currentClosureAtDispatch: cc,
        receivedAt: t,
        targetClosure: TARGET,
        soakDueAt: at(300),
      }));
    case 'RemoteDispatchAck':
      return [PRIOR, null].map((cc) => ({ type, seq, currentClosureAtDispatch: cc, receivedAt: t }));
    case 'LocalActivationStarted':
    case 'RemoteActivationStarted':
      return [{ type, seq, startedAt: t, switchMethod: 'switch' }];
    case 'LocalActivationCompleted':
    case 'RemoteActivationCompleted':
      return [{ type, seq, observedCurrentClosure: TARGET, exitCode: 0, completedAt: t }];
    case 'LocalActivationDeferred':
    case 'RemoteActivationDeferred':
      return [{ type, seq, component: 'systemd', deferredAt: t }];
    case 'LocalActivationFailed':
    case 'RemoteActivationFailed':
      return [{ type, seq, exitCode: 1, stderrTail: 'switch failed', failedAt: t }];
    case 'LocalProbeTopologyDeclared':
    case 'RemoteProbeTopologyDeclared':
      return [{ type, seq, probes: [{ probeName: 'nginx', kind: 'http', mode: 'enforce' }], declaredAt: t }];
    case 'LocalProbeObservedFirst':
    case 'RemoteProbeObservedFirst':
      return [{ type, seq, probeName: 'nginx', mode: 'enforce', observedAt: t }];
    case 'LocalProbeResult':
    case 'RemoteProbeResult':
      return (['pass', 'fail'] as const).map((status) => ({
        type,
        seq,
        probeName: 'nginx',
        mode: 'enforce' as const,
        status,
        observedAt: t,
        failureReason: status === 'fail' ? 'HTTP 503' : null,
        subResults: null,
      }));
    case 'LocalProbeFailureFirst':
    case 'RemoteProbeFailureFirst':
      return [{ type, seq, probeName: 'nginx', mode: 'enforce', firstFailedAt: t }];
    case 'LocalSustainedFailureCrossed':
    case 'RemoteFailed':
      return (['halt', 'rollback-and-halt'] as const).map((policyApplied) => ({
        type,
        seq,
        failedAt: t,
        sustainedDurationSecs: 120,
        failingProbes: ['nginx'],
        policyApplied,
      }));
    case 'LocalConvergedReached':
    case 'RemoteConverged':
      return [{ type, seq, convergedAt: t, currentClosure: TARGET }];
    case 'LocalRollbackCompleted':
    case 'RemoteRollbackComplete':
      return [{ type, seq, revertedToClosure: PRIOR, exitCode: 0, completedAt: t }];
    case 'LocalRollbackFailed':
    case 'RemoteRollbackFailed':
      return [{ type, seq, closure: PRIOR, exitCode: 2, stderrTail: 'rollback failed', failedAt: t }];
  }
}

export function hostAlphabet(snapshot: HostRolloutSnapshot): HostRolloutEvent[] {
  const seq = snapshot.context.lastEventSeq + 1;
  return HOST_EVENT_TYPES.flatMap((type) => eventsOfType(type, seq));
}

/**
 * Graph identity for traversal: the state plus the context facts that decide a guard. Seqs and
 * timestamps are left out, or the graph would never close.
 */
export function serializeHostState(snapshot: HostRolloutSnapshot): string {
  const c = snapshot.context;
  const failing = Object.values(c.probes).some((p) => p.mode === 'enforce' && p.status === 'fail');
  const unobserved = (c.declaredProbes ?? []).some(
    (p) => p.mode === 'enforce' && c.probes[p.probeName] === undefined,
  );
  return JSON.stringify([
    snapshot.value,
    c.onHealthFailure,
    c.currentClosureAtDispatch === null,
    failing,
    unobserved,
  ]);
}
