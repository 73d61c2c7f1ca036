// Spec §9.1-9.2 test vectors for the host-rollout chart, by their original names, plus the
// corrections of spec §10 that the chart owns.
import { describe, expect, it } from 'vitest';
import {
  hostStateOf,
  persistHostRollout,
  rehydrationEffects,
  restoreHostRollout,
  stepHostRollout,
  toAgentEvent,
  toRemoteEvent,
  toWireSnapshot,
  withNextSeq,
} from '../../machines/index.ts';
import { at, drive, ev, PRIOR, pendingRecord, T0, TARGET } from './support/hostFixtures.ts';

const toSoaking = (policy: 'halt' | 'rollback-and-halt' = 'halt') =>
  drive(pendingRecord({ onHealthFailure: policy }), [ev.activate(1), ev.completed(2)]).snapshot;

describe('spec §9.1 scenarios', () => {
  it('happy_path_pending_to_converged', () => {
    let s = pendingRecord();
    s = drive(s, [ev.activate(1, 'prior')]).snapshot;
    expect(hostStateOf(s)).toBe('Activating');
    s = drive(s, [ev.completed(2, TARGET)]).snapshot;
    expect(hostStateOf(s)).toBe('Soaking');
    expect(s.context.currentClosure).toBe(TARGET);
    const r = drive(s, [ev.converged(3, TARGET, at(360))]);
    expect(hostStateOf(r.snapshot)).toBe('Converged');
    expect(r.snapshot.status).toBe('done');
    expect(r.last).toContainEqual(
      expect.objectContaining({ type: 'RecordTransition', from: 'Soaking', to: 'Converged', at: at(360) }),
    );
  });

  it('sustained_failure_rollback_path', () => {
    const failed = drive(toSoaking('rollback-and-halt'), [ev.sustained(3, 'rollback-and-halt', at(125))]);
    expect(hostStateOf(failed.snapshot)).toBe('Failed');
    expect(failed.snapshot.context.policyApplied).toBe('rollback-and-halt');
    expect(failed.last).toContainEqual({
      type: 'LocalFireRollbackTo',
      rolloutId: 'stable@r1',
      closure: PRIOR,
    });
    const reverted = drive(failed.snapshot, [ev.rolledBack(4, PRIOR)]);
    expect(hostStateOf(reverted.snapshot)).toBe('Reverted');
    expect(reverted.snapshot.context.revertedTo).toBe(PRIOR);
    expect(reverted.snapshot.context.currentClosure).toBe(PRIOR);
  });

  it('sustained_failure_halt_only_does_not_fire_rollback', () => {
    const failed = drive(toSoaking('halt'), [ev.sustained(3, 'halt', at(125))]);
    expect(hostStateOf(failed.snapshot)).toBe('Failed');
    expect(failed.snapshot.context.policyApplied).toBe('halt');
    expect(failed.last.map((e) => e.type)).not.toContain('LocalFireRollbackTo');
  });

  it('converged_invariant_violation_rejected', () => {
    const s = toSoaking();
    const r = stepHostRollout(s, ev.converged(3, 'wrong-closure'));
    expect(r).toMatchObject({ ok: false, error: { code: 'Invariant', invariant: 'closure-mismatch' } });
  });

  it('activation_failure_rollback_and_halt_fires_rollback_immediately', () => {
    const s = drive(pendingRecord({ onHealthFailure: 'rollback-and-halt' }), [ev.activate(1)]).snapshot;
    const r = drive(s, [ev.activationFailed(2)]);
    expect(hostStateOf(r.snapshot)).toBe('Failed');
    expect(r.snapshot.context.policyApplied).toBe('rollback-and-halt');
    expect(r.snapshot.context.activationFailedAt).toBe(r.snapshot.context.failedAt);
    expect(r.last.at(-1)).toEqual({ type: 'LocalFireRollbackTo', rolloutId: 'stable@r1', closure: PRIOR });
  });

  it('probe_result_updates_map_without_state_change', () => {
    const s = toSoaking();
    expect(s.context.probes).toEqual({});
    const r = drive(s, [ev.probe(3, 'nginx', 'pass')]);
    expect(hostStateOf(r.snapshot)).toBe('Soaking');
    expect(Object.keys(r.snapshot.context.probes)).toEqual(['nginx']);
    expect(r.last).toEqual([
      expect.objectContaining({
        type: 'LocalEmitEvent',
        durable: false,
        payload: expect.objectContaining({ kind: 'ProbeResult' }),
      }),
    ]);
  });

  it('local_activation_deferred_transitions_to_deferred_and_emits_outbound', () => {
    const s = drive(pendingRecord(), [ev.activate(1)]).snapshot;
    const r = drive(s, [ev.deferred(2, 'systemd')]);
    expect(hostStateOf(r.snapshot)).toBe('Deferred');
    expect(r.snapshot.context.lastEventSeq).toBe(2);
    expect(r.snapshot.context.currentClosure).toBeNull();
    expect(r.snapshot.context.activationCompletedAt).toBeNull();
    expect(r.last).toEqual([
      expect.objectContaining({
        type: 'LocalEmitEvent',
        durable: true,
        payload: expect.objectContaining({ kind: 'ActivationDeferred', component: 'systemd' }),
      }),
      expect.objectContaining({ type: 'RecordTransition', from: 'Activating', to: 'Deferred' }),
    ]);
  });

  it('remote_activation_deferred_transitions_to_deferred_and_appends_event_log', () => {
    const r = drive(pendingRecord(), [
      { type: 'RemoteDispatchAck', seq: 1, currentClosureAtDispatch: PRIOR, receivedAt: at(1) },
      { type: 'RemoteActivationDeferred', seq: 2, component: 'dbus', deferredAt: at(20) },
    ]);
    expect(hostStateOf(r.snapshot)).toBe('Deferred');
    expect(r.last[0]).toMatchObject({
      type: 'RemoteAppendEventLog',
      host: 'web-01',
      payload: { kind: 'ActivationDeferred', component: 'dbus' },
    });
  });

  it('deferred_then_synthesized_completion_advances_to_soaking', () => {
    const r = drive(pendingRecord(), [
      { type: 'RemoteDispatchAck', seq: 1, currentClosureAtDispatch: PRIOR, receivedAt: at(1) },
      { type: 'RemoteActivationDeferred', seq: 2, component: 'kernel', deferredAt: at(20) },
      {
        type: 'RemoteActivationCompleted',
        seq: 3,
        observedCurrentClosure: TARGET,
        exitCode: 0,
        completedAt: at(90),
      },
    ]);
    expect(hostStateOf(r.snapshot)).toBe('Soaking');
    expect(r.snapshot.context.currentClosure).toBe(TARGET);
  });

  it('local_probe_result_threads_sub_results_to_outbound_event', () => {
    const subResults = [
      {
        controlId: 'nis2-art21-2a',
        status: 'fail' as const,
        framework: 'nis2',
        article: '21(2)(a)',
        effectiveMode: 'enforce' as const,
        overrideReason: null,
      },
      {
        controlId: 'nis2-art21-2b',
        status: 'fail' as const,
        framework: 'nis2',
        article: null,
        effectiveMode: 'observe' as const,
        overrideReason: 'vendor exception until 2026-06',
      },
    ];
    const r = drive(toSoaking(), [
      {
        type: 'LocalProbeResult',
        seq: 3,
        probeName: 'evidence-nis2-essential',
        mode: 'enforce',
        status: 'fail',
        observedAt: at(40),
        failureReason: '1 control failing',
        subResults,
      },
    ]);
    expect(r.last[0]).toMatchObject({ type: 'LocalEmitEvent', payload: { kind: 'ProbeResult', subResults } });
  });
});

describe('spec §9.2 unit tests', () => {
  it('local_activate_moves_pending_to_activating (effects: RecordTransition, LocalEmitEvent, LocalFireSwitch)', () => {
    const r = drive(pendingRecord(), [ev.activate(1, 'prior-closure')]);
    expect(r.snapshot.context.currentClosureAtDispatch).toBe('prior-closure');
    expect(r.snapshot.context.dispatchAckedAt).toBe(at(1));
    expect(r.last.map((e) => e.type)).toEqual(['RecordTransition', 'LocalEmitEvent', 'LocalFireSwitch']);
    expect(r.last[2]).toEqual({ type: 'LocalFireSwitch', rolloutId: 'stable@r1', target: TARGET });
  });

  it('remote_dispatch_ack_mirrors (effects: RemoteAppendEventLog, RecordTransition)', () => {
    const r = drive(pendingRecord(), [
      { type: 'RemoteDispatchAck', seq: 1, currentClosureAtDispatch: 'prior-closure', receivedAt: at(1) },
    ]);
    expect(hostStateOf(r.snapshot)).toBe('Activating');
    expect(r.last.map((e) => e.type)).toEqual(['RemoteAppendEventLog', 'RecordTransition']);
  });

  it('illegal completion in Pending is IllegalForState', () => {
    const s = pendingRecord();
    expect(stepHostRollout(s, ev.completed(1))).toEqual({
      ok: false,
      error: {
        code: 'IllegalForState',
        from: 'Pending',
        event: 'LocalActivationCompleted',
        rolloutId: 'stable@r1',
        hostname: 'web-01',
      },
    });
  });

  it('lastEventSeq 5 and seq 5 is SeqRegression', () => {
    const s = drive(pendingRecord(), [ev.activate(5)]).snapshot;
    expect(s.context.lastEventSeq).toBe(5);
    expect(stepHostRollout(s, ev.started(5))).toMatchObject({
      ok: false,
      error: { code: 'SeqRegression', got: 5, last: 5 },
    });
    expect(stepHostRollout(s, ev.started(4))).toMatchObject({
      ok: false,
      error: { code: 'SeqRegression', got: 4 },
    });
  });

  it('a stale event to a terminal record is a duplicate, not illegal (seq check first)', () => {
    const s = drive(toSoaking(), [ev.converged(3)]).snapshot;
    expect(stepHostRollout(s, ev.converged(3))).toMatchObject({
      ok: false,
      error: { code: 'SeqRegression' },
    });
    expect(stepHostRollout(s, ev.converged(4))).toMatchObject({
      ok: false,
      error: { code: 'IllegalForState' },
    });
  });

  it('converged before soakDueAt is an Invariant', () => {
    const r = stepHostRollout(toSoaking(), ev.converged(3, TARGET, at(299)));
    expect(r).toMatchObject({ ok: false, error: { code: 'Invariant', invariant: 'before-soak-due' } });
  });

  it('a failing observe probe does not block convergence; a failing enforce probe does', () => {
    const observe = drive(toSoaking(), [ev.probe(3, 'latency', 'fail', 'observe')]).snapshot;
    expect(stepHostRollout(observe, ev.converged(4)).ok).toBe(true);
    const enforce = drive(toSoaking(), [ev.probe(3, 'nginx', 'fail', 'enforce')]).snapshot;
    expect(stepHostRollout(enforce, ev.converged(4))).toMatchObject({
      ok: false,
      error: { code: 'Invariant', invariant: 'enforce-probe-failing' },
    });
  });

  it('completion emits LocalResetProbeCache and clears the probe map', () => {
    const s = drive(pendingRecord(), [ev.activate(1)]).snapshot;
    const r = drive(s, [ev.completed(2)]);
    expect(r.last[0]).toEqual({ type: 'LocalResetProbeCache', rolloutId: 'stable@r1' });
    expect(r.snapshot.context.probes).toEqual({});
  });

  it('remote rollback quarantines exactly (channel, targetClosure)', () => {
    const r = drive(pendingRecord({ onHealthFailure: 'rollback-and-halt' }), [
      { type: 'RemoteDispatchAck', seq: 1, currentClosureAtDispatch: PRIOR, receivedAt: at(1) },
      { type: 'RemoteActivationFailed', seq: 2, exitCode: 1, stderrTail: 'boom', failedAt: at(40) },
      { type: 'RemoteRollbackComplete', seq: 3, revertedToClosure: PRIOR, exitCode: 0, completedAt: at(60) },
    ]);
    expect(hostStateOf(r.snapshot)).toBe('Reverted');
    expect(r.last.map((e) => e.type)).toEqual([
      'RemoteAppendEventLog',
      'RemoteInsertQuarantine',
      'RecordTransition',
    ]);
    expect(r.last[1]).toEqual({ type: 'RemoteInsertQuarantine', channel: 'stable', closure: TARGET });
  });

  it('rehydration: Pending has no effects; every other state restarts the probe runners', () => {
    expect(rehydrationEffects(pendingRecord())).toEqual([]);
    const reached = [
      drive(pendingRecord(), [ev.activate(1)]).snapshot,
      drive(pendingRecord(), [ev.activate(1), ev.deferred(2)]).snapshot,
      toSoaking(),
      drive(pendingRecord(), [ev.activate(1), ev.activationFailed(2)]).snapshot,
      drive(toSoaking(), [ev.converged(3)]).snapshot,
      drive(pendingRecord({ onHealthFailure: 'rollback-and-halt' }), [
        ev.activate(1),
        ev.activationFailed(2),
        ev.rolledBack(3),
      ]).snapshot,
    ];
    expect(reached.map(hostStateOf)).toEqual([
      'Activating',
      'Deferred',
      'Soaking',
      'Failed',
      'Converged',
      'Reverted',
    ]);
    for (const s of reached) {
      expect(rehydrationEffects(s)).toEqual([{ type: 'LocalResetProbeCache', rolloutId: 'stable@r1' }]);
    }
  });
});

describe('spec §2.7 details', () => {
  it('Deferred → Failed applies no policy and fires no rollback', () => {
    const s = drive(pendingRecord({ onHealthFailure: 'rollback-and-halt' }), [
      ev.activate(1),
      ev.deferred(2),
    ]).snapshot;
    const r = drive(s, [ev.activationFailed(3)]);
    expect(hostStateOf(r.snapshot)).toBe('Failed');
    expect(r.snapshot.context.policyApplied).toBeNull();
    expect(r.last.map((e) => e.type)).toEqual(['LocalEmitEvent', 'RecordTransition']);
  });

  it('an empty pre-dispatch closure still counts as a rollback target; an unknown one does not', () => {
    const empty = drive(pendingRecord({ onHealthFailure: 'rollback-and-halt' }), [
      ev.activate(1, ''),
    ]).snapshot;
    expect(drive(empty, [ev.activationFailed(2)]).last.at(-1)).toEqual({
      type: 'LocalFireRollbackTo',
      rolloutId: 'stable@r1',
      closure: '',
    });
    const unknown = drive(pendingRecord({ onHealthFailure: 'rollback-and-halt' }), [
      ev.activate(1, null),
    ]).snapshot;
    expect(drive(unknown, [ev.activationFailed(2)]).last.map((e) => e.type)).not.toContain(
      'LocalFireRollbackTo',
    );
  });

  it('ActivationCompleted does not check the observed closure; the Converged invariant does', () => {
    const s = drive(pendingRecord(), [ev.activate(1), ev.completed(2, 'something-else')]).snapshot;
    expect(hostStateOf(s)).toBe('Soaking');
    expect(stepHostRollout(s, ev.converged(3, 'something-else'))).toMatchObject({
      ok: false,
      error: { invariant: 'closure-mismatch' },
    });
  });

  it('first-observed and first-failure stamps are never overwritten', () => {
    const r = drive(toSoaking(), [
      ev.observedFirst(3, 'nginx', at(35)),
      ev.observedFirst(4, 'nginx', at(36)),
      ev.failureFirst(5, 'nginx', at(45)),
      ev.failureFirst(6, 'nginx', at(46)),
    ]);
    expect(r.snapshot.context.probeObservedFirstAt).toBe(at(35));
    expect(r.snapshot.context.probeFailureFirstAt).toBe(at(45));
    expect(r.last[0]).toMatchObject({ type: 'LocalEmitEvent', durable: false });
  });

  it('LocalActivate carries dispatch fields that the chart does not apply', () => {
    const s = drive(pendingRecord({ soakDueAt: at(300) }), [
      { ...ev.activate(1), targetClosure: 'other', soakDueAt: at(9999) } as never,
    ]).snapshot;
    expect(s.context.targetClosure).toBe(TARGET);
    expect(s.context.soakDueAt).toBe(at(300));
  });
});

describe('spec §10 corrections owned by the chart', () => {
  it('G3: the agent numbers every Local event, LocalActivationDeferred included', () => {
    const s = drive(pendingRecord(), [ev.activate(1)]).snapshot;
    const stamped = withNextSeq(s.context, ev.deferred(0));
    expect(stamped.seq).toBe(2);
    const r = stepHostRollout(s, stamped);
    expect(r.ok && hostStateOf(r.snapshot)).toBe('Deferred');
  });

  it('G6: rollback targets the recorded pre-dispatch closure, and a failed rollback is recorded', () => {
    const failed = drive(pendingRecord({ onHealthFailure: 'rollback-and-halt' }), [
      ev.activate(1, 'gen-41-closure'),
      ev.activationFailed(2),
    ]);
    expect(failed.last.at(-1)).toEqual({
      type: 'LocalFireRollbackTo',
      rolloutId: 'stable@r1',
      closure: 'gen-41-closure',
    });
    const r = drive(failed.snapshot, [ev.rollbackFailed(3)]);
    expect(hostStateOf(r.snapshot)).toBe('Failed');
    expect(r.snapshot.context.rollbackFailedAt).toBe(at(200));
    expect(r.snapshot.context.rollbackFailure).toContain('no such profile');
    expect(r.last).toEqual([
      expect.objectContaining({
        type: 'LocalEmitEvent',
        durable: true,
        payload: expect.objectContaining({ kind: 'RollbackFailed' }),
      }),
    ]);
    // The rollback can still complete later.
    expect(hostStateOf(drive(r.snapshot, [ev.rolledBack(4)]).snapshot)).toBe('Reverted');
  });

  it('G8: with soakMinutes, soakDueAt is anchored at activation completion', () => {
    const s = drive(pendingRecord({ soakDueAt: at(300), soakMinutes: 10 }), [
      ev.activate(1),
      ev.completed(2, TARGET, at(3600)),
    ]).snapshot;
    expect(s.context.soakDueAt).toBe(at(3600 + 600));
    expect(stepHostRollout(s, ev.converged(3, TARGET, at(3600 + 599)))).toMatchObject({
      ok: false,
      error: { invariant: 'before-soak-due' },
    });
    expect(stepHostRollout(s, ev.converged(3, TARGET, at(3600 + 600))).ok).toBe(true);
  });

  it('G9: a declared enforce probe must report before convergence', () => {
    const declared = drive(toSoaking(), [
      ev.topology(3, [
        { probeName: 'nginx', mode: 'enforce' },
        { probeName: 'latency', mode: 'observe' },
      ]),
    ]).snapshot;
    expect(stepHostRollout(declared, ev.converged(4))).toMatchObject({
      ok: false,
      error: { invariant: 'enforce-probe-unobserved' },
    });
    const observed = drive(declared, [ev.probe(4, 'nginx', 'pass')]).snapshot;
    expect(stepHostRollout(observed, ev.converged(5)).ok).toBe(true);
  });

  it('G10: a probe failure streak restarts after a pass', () => {
    const r = drive(toSoaking(), [
      ev.probe(3, 'nginx', 'fail', 'enforce', at(40)),
      ev.probe(4, 'nginx', 'fail', 'enforce', at(50)),
    ]).snapshot;
    expect(r.context.probes.nginx?.failingSince).toBe(at(40));
    const passed = drive(r, [ev.probe(5, 'nginx', 'pass', 'enforce', at(60))]).snapshot;
    expect(passed.context.probes.nginx).toMatchObject({
      failingSince: null,
      lastPassAt: at(60),
      failureReason: null,
    });
    const again = drive(passed, [ev.probe(6, 'nginx', 'fail', 'enforce', at(70))]).snapshot;
    expect(again.context.probes.nginx).toMatchObject({ failingSince: at(70), lastPassAt: at(60) });
  });
});

describe('snapshots', () => {
  it('a persisted snapshot round-trips through JSON and restores to an identical state', () => {
    const s = drive(toSoaking(), [ev.probe(3, 'nginx', 'fail'), ev.failureFirst(4)]).snapshot;
    const json = JSON.parse(JSON.stringify(persistHostRollout(s)));
    const restored = restoreHostRollout(json);
    if (!restored.ok) expect.fail(restored.error.message);
    expect(persistHostRollout(restored.snapshot)).toEqual(persistHostRollout(s));
    expect(hostStateOf(restored.snapshot)).toBe('Soaking');
    // The restored snapshot keeps behaving like the original.
    const a = stepHostRollout(s, ev.probe(5, 'nginx', 'pass'));
    const b = stepHostRollout(restored.snapshot, ev.probe(5, 'nginx', 'pass'));
    expect(a.ok && b.ok && persistHostRollout(b.snapshot)).toEqual(a.ok && persistHostRollout(a.snapshot));
  });

  it('a terminal snapshot restores as done', () => {
    const s = drive(toSoaking(), [ev.converged(3)]).snapshot;
    const r = restoreHostRollout(JSON.parse(JSON.stringify(persistHostRollout(s))));
    expect(r.ok && r.snapshot.status).toBe('done');
  });

  it('restore refuses unknown chart versions and malformed records with a reason', () => {
    const p = persistHostRollout(pendingRecord());
    expect(restoreHostRollout({ ...p, machineVersion: 99 })).toMatchObject({
      ok: false,
      error: { code: 'UnknownMachineVersion', machineVersion: 99 },
    });
    const bad = restoreHostRollout({ ...p, context: { ...p.context, lastEventSeq: -1 } });
    expect(bad).toMatchObject({ ok: false, error: { code: 'InvalidSnapshot' } });
    expect(!bad.ok && bad.error.message).toContain('lastEventSeq');
    expect(restoreHostRollout({ ...p, value: 'Draining' })).toMatchObject({
      ok: false,
      error: { code: 'InvalidSnapshot' },
    });
    expect(restoreHostRollout('garbage')).toMatchObject({ ok: false });
  });

  it('the §5.5 wire snapshot carries the record fields the agent rehydrates from', () => {
    const s = drive(pendingRecord(), [ev.activate(1), ev.started(2)]).snapshot;
    expect(toWireSnapshot(s)).toEqual({
      rolloutId: 'stable@r1',
      hostname: 'web-01',
      channel: 'stable',
      state: 'Activating',
      targetClosure: TARGET,
      currentClosureAtDispatch: PRIOR,
      currentClosure: null,
      dispatchedAt: T0,
      dispatchAckedAt: at(1),
      activationStartedAt: at(2),
      activationCompletedAt: null,
      soakDueAt: at(300),
      lastEventSeq: 2,
    });
  });

  it('wire payload and Remote mirror round-trip', () => {
    const local = ev.activate(1);
    const wire = toAgentEvent(local);
    expect(wire).toEqual({ kind: 'DispatchAck', seq: 1, currentClosureAtDispatch: PRIOR, receivedAt: at(1) });
    expect(toRemoteEvent(wire)).toEqual({
      type: 'RemoteDispatchAck',
      seq: 1,
      currentClosureAtDispatch: PRIOR,
      receivedAt: at(1),
    });
  });
});
