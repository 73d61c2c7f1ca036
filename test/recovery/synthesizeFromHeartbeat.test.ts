// The §7.4 case table, one rule per test: which records a heartbeat advances, which it holds and
// why, and that every synthesised event went through the chart (seqs, stamps, effects).
import { describe, expect, it, vi } from 'vitest';
import {
  alreadyOnTarget,
  type GateCheck,
  isCpOwnedSoak,
  synthesizeFromHeartbeat,
} from '../../cp/recovery/index.ts';
import { type HostRolloutSnapshot, hostStateOf, persistHostRollout } from '../../machines/index.ts';
import {
  activatingEffects,
  allowAll,
  at,
  drive,
  PRIOR,
  records,
  remote,
  TARGET,
} from './support/fixtures.ts';

const NOW = at(500);

function synth(
  recs: HostRolloutSnapshot[],
  currentClosure: string | null,
  gatesAllow: GateCheck = allowAll,
  now = NOW,
) {
  return synthesizeFromHeartbeat({ records: recs, currentClosure, now, gatesAllow });
}

describe('Activating / Deferred → Soaking', () => {
  it('Deferred on target (operator rebooted into the staged closure) completes the activation', () => {
    const r = synth([records.deferred()], TARGET);
    expect(r.recoveries).toMatchObject([
      { kind: 'advanced', case: 'activation-completed', from: 'Deferred', to: 'Soaking', stop: null },
    ]);
    expect(r.events[0]?.event).toEqual({
      type: 'RemoteActivationCompleted',
      observedCurrentClosure: TARGET,
      exitCode: 0,
      completedAt: NOW,
      seq: 3,
    });
  });

  it('stops at Soaking even when the soak is due: the agent behind it soaks and converges itself', () => {
    const r = synth([records.activating({ soakDueAt: at(10) })], TARGET);
    expect(r.snapshots.map(hostStateOf)).toEqual(['Soaking']);
    // And the next heartbeat leaves that agent-owned soak alone.
    const again = synth(r.snapshots, TARGET, allowAll, at(900));
    expect(again.events).toEqual([]);
    expect(isCpOwnedSoak(r.snapshots[0] as HostRolloutSnapshot)).toBe(false);
  });

  it('effects are the CP mirror only: event log and transition, nothing that switches the host', () => {
    const r = synth([records.activating()], TARGET);
    const [rec] = r.recoveries;
    if (rec?.kind !== 'advanced') return expect.fail('not advanced');
    expect(rec.effects.map((e) => e.type)).toEqual(['RemoteAppendEventLog', 'RecordTransition']);
  });
});

describe('Pending → Converged chain', () => {
  it('asks the gates only for a Pending record already on target', () => {
    const gates = vi.fn(() => true);
    synth([records.pending(), records.activating({ rolloutId: 'stable@other' })], PRIOR, gates);
    expect(gates).not.toHaveBeenCalled();
    synth([records.pending()], TARGET, gates);
    expect(gates).toHaveBeenCalledTimes(1);
  });

  it('a blocking gate holds the record Pending and reports the reason (spec §4.6)', () => {
    const record = records.pending();
    const r = synth([record], TARGET, () => ({
      allow: false,
      reason: 'channel-edges: edge@r1 not terminal',
    }));
    expect(r.events).toEqual([]);
    expect(r.snapshots).toEqual([record]);
    expect(r.recoveries).toEqual([
      {
        kind: 'held',
        hostname: 'h1',
        rolloutId: 'stable@stable-rollout',
        case: 'pending-chain',
        state: 'Pending',
        stop: { reason: 'gates-block', detail: 'channel-edges: edge@r1 not terminal' },
      },
    ]);
    expect(synth([record], TARGET, () => false).recoveries[0]).toMatchObject({
      stop: { reason: 'gates-block' },
    });
    // The planner can tell it apart from a host that still needs the switch.
    expect(alreadyOnTarget(record, TARGET)).toBe(true);
    expect(alreadyOnTarget(record, PRIOR)).toBe(false);
  });

  it('the synthesised ack records no rollback target (null, not the agent-side "")', () => {
    const r = synth([records.pending({ soakDueAt: at(900) })], TARGET);
    const [snap] = r.snapshots;
    expect(snap?.context.currentClosureAtDispatch).toBeNull();
    expect(isCpOwnedSoak(snap as HostRolloutSnapshot)).toBe(true);
  });

  it('without a soakDueAt the chain converges at once', () => {
    const r = synth([records.pending({ soakDueAt: null })], TARGET);
    expect(r.snapshots.map(hostStateOf)).toEqual(['Converged']);
  });

  it('a soak re-anchored at activation completion (G8) is waited out, not faked', () => {
    const r = synth([records.pending({ soakMinutes: 10 })], TARGET);
    expect(r.recoveries[0]).toMatchObject({
      kind: 'advanced',
      to: 'Soaking',
      stop: { reason: 'soak-not-due', soakDueAt: at(1100) },
    });
    expect(synth(r.snapshots, TARGET, allowAll, at(1099)).events).toEqual([]);
    const done = synth(r.snapshots, TARGET, allowAll, at(1100));
    expect(done.snapshots[0]?.context.convergedAt).toBe(at(1100));
  });

  it('convergedAt is never later than now (G12)', () => {
    for (const soakDueAt of [null, at(0), at(499), at(500), at(501), at(10_000)]) {
      const r = synth([records.pending({ soakDueAt })], TARGET);
      const convergedAt = r.snapshots[0]?.context.convergedAt ?? null;
      if (convergedAt !== null) expect(Date.parse(convergedAt)).toBeLessThanOrEqual(Date.parse(NOW));
    }
  });
});

describe('CP-owned soak', () => {
  it('held while not due; a refused Converged (enforce probe declared, never observed) stays Soaking', () => {
    const soaking = synth([records.pending({ soakDueAt: at(900) })], TARGET)
      .snapshots[0] as HostRolloutSnapshot;
    expect(synth([soaking], TARGET).recoveries).toMatchObject([
      { kind: 'held', case: 'soak-elapsed', state: 'Soaking', stop: { reason: 'soak-not-due' } },
    ]);
    // An agent that came back and declared probes is now soaking this record: the chart refuses a
    // synthesised convergence until its enforce probes report (G9), and the CP persists nothing.
    const declared = drive(soaking, [remote.topology(7, at(600))]);
    const r = synth([declared], TARGET, allowAll, at(1000));
    expect(r.snapshots).toEqual([declared]);
    expect(r.recoveries).toMatchObject([
      {
        kind: 'held',
        stop: { reason: 'refused', event: 'RemoteConverged', error: { code: 'Invariant' } },
      },
    ]);
  });
});

describe('Failed → Reverted', () => {
  it('rollback-and-halt, host back on the pre-dispatch closure: RollbackComplete and quarantine', () => {
    const r = synth([records.failed('rollback-and-halt')], PRIOR);
    const [rec] = r.recoveries;
    if (rec?.kind !== 'advanced') return expect.fail('not advanced');
    expect(rec).toMatchObject({ case: 'rollback-completed', from: 'Failed', to: 'Reverted' });
    expect(rec.events).toEqual([
      { type: 'RemoteRollbackComplete', revertedToClosure: PRIOR, exitCode: 0, completedAt: NOW, seq: 5 },
    ]);
    expect(rec.effects).toContainEqual({
      type: 'RemoteInsertQuarantine',
      channel: 'stable',
      closure: TARGET,
    });
    expect(rec.snapshot.context).toMatchObject({ revertedTo: PRIOR, currentClosure: PRIOR, revertedAt: NOW });
  });

  it('under halt no rollback was ordered: the record stays Failed and nothing is quarantined', () => {
    const r = synth([records.failed('halt')], PRIOR);
    expect(r.recoveries).toEqual([]);
    expect(r.snapshots.map(hostStateOf)).toEqual(['Failed']);
  });

  it('a Deferred failure carries no policy and is not reverted', () => {
    const record = drive(records.deferred({ onHealthFailure: 'rollback-and-halt' }), [
      remote.activationFailed(3),
    ]);
    expect(record.context.policyApplied).toBeNull();
    expect(synth([record], PRIOR).events).toEqual([]);
  });

  it('a host still on the failed target is not reverted', () => {
    expect(synth([records.failed('rollback-and-halt')], TARGET).events).toEqual([]);
  });
});

describe('the whole heartbeat', () => {
  it('no current closure, or no match: nothing happens and records come back as given', () => {
    const recs = [records.pending({ rolloutId: 'stable@a' }), records.activating({ rolloutId: 'stable@b' })];
    for (const closure of [null, 'unrelated-closure']) {
      const r = synth(recs, closure);
      expect(r.events).toEqual([]);
      expect(r.recoveries).toEqual([]);
      expect(r.snapshots).toEqual(recs);
    }
  });

  it('terminal records are never touched', () => {
    const recs = [records.converged(), drive(records.failed('rollback-and-halt'), [remote.rolledBack(5)])];
    expect(synth(recs, TARGET).events).toEqual([]);
    expect(synth(recs, PRIOR).events).toEqual([]);
  });

  it('processes records in rolloutId order, each from its own seq', () => {
    const r = synth(
      [
        records.failed('rollback-and-halt', { rolloutId: 'stable@c', targetClosure: 'other-target' }),
        records.pending({ rolloutId: 'stable@b', soakDueAt: null }),
        records.activating({ rolloutId: 'stable@a' }),
      ],
      TARGET,
    );
    expect(r.snapshots.map((s) => [s.context.rolloutId, hostStateOf(s)])).toEqual([
      ['stable@a', 'Soaking'],
      ['stable@b', 'Converged'],
      ['stable@c', 'Failed'],
    ]);
    expect(r.events.map((e) => `${e.rolloutId}:${e.event.type}:${e.event.seq}`)).toEqual([
      'stable@a:RemoteActivationCompleted:2',
      'stable@b:RemoteDispatchAck:1',
      'stable@b:RemoteActivationCompleted:2',
      'stable@b:RemoteConverged:3',
    ]);
  });

  it('is idempotent: a repeated heartbeat synthesises nothing new', () => {
    const recs = [
      records.activating({ rolloutId: 'stable@a' }),
      records.pending({ rolloutId: 'stable@b', soakDueAt: null }),
      records.failed('rollback-and-halt', { rolloutId: 'stable@c' }),
    ];
    const first = synth(recs, TARGET);
    expect(synth(first.snapshots, TARGET).events).toEqual([]);
    const rolledBack = synth(recs, PRIOR);
    expect(synth(rolledBack.snapshots, PRIOR).events).toEqual([]);
  });

  it('never emits an effect that switches the host, and the stepped snapshots persist', () => {
    const r = synth(
      [
        records.activating({ rolloutId: 'stable@a' }),
        records.pending({ rolloutId: 'stable@b', soakDueAt: null }),
        records.deferred({ rolloutId: 'stable@d' }),
      ],
      TARGET,
    );
    for (const rec of r.recoveries) {
      if (rec.kind === 'advanced') {
        expect(activatingEffects(rec.effects)).toEqual([]);
        expect(persistHostRollout(rec.snapshot).value).toBe(rec.to);
      }
    }
  });
});
