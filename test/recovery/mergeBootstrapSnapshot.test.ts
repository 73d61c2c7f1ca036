// Agent-side bootstrap rehydration (spec §6.16) with the G11 fixes: agent-local fields survive,
// seq never regresses, a warm record never moves backwards, and the probe runners restart only when
// the record was absent or its state or target changed.
import { describe, expect, it } from 'vitest';
import { isLifecycleAhead, mergeBootstrapSnapshot } from '../../agent/recovery/mergeBootstrapSnapshot.ts';
import {
  type HostRolloutSnapshot,
  hostStateOf,
  persistHostRollout,
  restoreHostRollout,
  stepHostRollout,
  toWireSnapshot,
} from '../../machines/index.ts';
import {
  HOST_STATES,
  type HostRolloutWireSnapshot,
  hostRolloutWireSnapshotSchema,
} from '../../proto/index.ts';
import { at, drive, PRIOR, records, remote, TARGET } from './support/fixtures.ts';

const POLICY = { onHealthFailure: 'rollback-and-halt', soakMinutes: 5, wave: 2 } as const;

function merge(existing: HostRolloutSnapshot | undefined, wire: HostRolloutWireSnapshot) {
  const r = mergeBootstrapSnapshot(existing, wire, POLICY);
  if (!r.ok) return expect.fail(r.error.message);
  return r;
}

/** A local Soaking record with agent-only knowledge the wire does not carry. */
function warmSoaking(): HostRolloutSnapshot {
  return drive(records.soaking(), [remote.topology(3), remote.probe(4, 'fail', at(40))]);
}

describe('mergeBootstrapSnapshot', () => {
  it('absent record: created from the snapshot with the policy’s local fields, effects per §2.11', () => {
    const wire = toWireSnapshot(records.soaking());
    const r = merge(undefined, wire);
    expect(r).toMatchObject({ outcome: 'created', rehydrate: true });
    expect(r.effects).toEqual([{ type: 'LocalResetProbeCache', rolloutId: wire.rolloutId }]);
    expect(hostStateOf(r.snapshot)).toBe('Soaking');
    expect(toWireSnapshot(r.snapshot)).toEqual(wire);
    expect(r.snapshot.context).toMatchObject({
      onHealthFailure: 'rollback-and-halt',
      soakMinutes: 5,
      wave: 2,
    });
    // A snapshot-built record persists and restores like any other.
    expect(restoreHostRollout(persistHostRollout(r.snapshot))).toMatchObject({ ok: true });

    const pendingOnly = merge(undefined, toWireSnapshot(records.pending()));
    expect(pendingOnly).toMatchObject({ outcome: 'created', rehydrate: true, effects: [] });
  });

  it('same state (every heartbeat in steady state): refreshed, no probe reset, local fields kept', () => {
    const local = warmSoaking();
    const r = merge(local, toWireSnapshot(records.soaking()));
    expect(r).toMatchObject({ outcome: 'refreshed', rehydrate: false, effects: [] });
    expect(r.snapshot.context.probes).toEqual(local.context.probes);
    expect(r.snapshot.context.declaredProbes).toEqual(local.context.declaredProbes);
    expect(r.snapshot.context.lastEventSeq).toBe(4);
  });

  it('keeps probeFailureFirstAt and the other agent-local fields across snapshots (§6.16)', () => {
    const local = drive(warmSoaking(), [
      { type: 'RemoteProbeFailureFirst', seq: 5, probeName: 'http', mode: 'enforce', firstFailedAt: at(45) },
    ]);
    let current = local;
    for (let i = 0; i < 5; i++) current = merge(current, toWireSnapshot(records.soaking())).snapshot;
    expect(current.context.probeFailureFirstAt).toBe(at(45));
    expect(current.context.probes.http?.failingSince).toBe(at(40));
  });

  it('never regresses lastEventSeq, and adopts a higher CP seq (after synthesis, §2.9)', () => {
    const local = warmSoaking(); // seq 4
    expect(
      merge(local, { ...toWireSnapshot(records.soaking()), lastEventSeq: 2 }).snapshot.context.lastEventSeq,
    ).toBe(4);
    expect(
      merge(local, { ...toWireSnapshot(records.soaking()), lastEventSeq: 9 }).snapshot.context.lastEventSeq,
    ).toBe(9);
  });

  it('CP ahead (it synthesised the completion): state adopted, probe runners reset', () => {
    const local = records.activating();
    const cp = drive(records.activating(), [remote.completed(2, TARGET, at(500))]);
    const r = merge(local, toWireSnapshot(cp));
    expect(r).toMatchObject({
      outcome: 'advanced',
      rehydrate: true,
      effects: [{ type: 'LocalResetProbeCache' }],
    });
    expect(hostStateOf(r.snapshot)).toBe('Soaking');
    expect(r.snapshot.context).toMatchObject({
      activationCompletedAt: at(500),
      currentClosure: TARGET,
      lastEventSeq: 2,
    });
  });

  it('CP behind (events still queued) or on another branch: the warm record stands', () => {
    const converged = drive(warmSoaking(), [remote.probe(5, 'pass', at(50)), remote.converged(6)]);
    for (const cp of [records.soaking(), records.activating(), records.pending()]) {
      const r = merge(converged, toWireSnapshot(cp));
      expect(r).toMatchObject({ outcome: 'kept-local', rehydrate: false, effects: [] });
      expect(r.snapshot).toBe(converged);
    }
    const failed = records.failed('halt');
    const r = merge(failed, { ...toWireSnapshot(records.soaking()), lastEventSeq: 7 });
    expect(hostStateOf(r.snapshot)).toBe('Failed');
    expect(r.snapshot.context.lastEventSeq).toBe(7);
  });

  it('a null on the wire never erases a local value (CP-synthesised ack has no rollback target)', () => {
    const local = records.activating(); // ccAtDispatch = PRIOR
    const cp = drive(records.pending(), [remote.ack(1, null), remote.completed(2)]);
    const r = merge(local, toWireSnapshot(cp));
    expect(r.snapshot.context.currentClosureAtDispatch).toBe(PRIOR);
  });

  it('another target under the same rollout id: rebuilt from the snapshot, probes dropped, seq kept', () => {
    const local = warmSoaking();
    const r = merge(local, {
      ...toWireSnapshot(records.soaking()),
      targetClosure: 'new-target',
      lastEventSeq: 1,
    });
    expect(r).toMatchObject({ outcome: 'retargeted', rehydrate: true });
    expect(r.snapshot.context).toMatchObject({ targetClosure: 'new-target', probes: {}, lastEventSeq: 4 });
  });

  it('a snapshot for another record is refused as a value', () => {
    const r = mergeBootstrapSnapshot(
      records.soaking(),
      { ...toWireSnapshot(records.soaking()), rolloutId: 'stable@x' },
      POLICY,
    );
    expect(r).toMatchObject({ ok: false, error: { code: 'SnapshotMismatch' } });
  });

  it('a merged record keeps working: the agent’s next event applies on top of it', () => {
    const cp = drive(records.pending(), [remote.ack(1), remote.completed(2, TARGET, at(30))]);
    const wire = hostRolloutWireSnapshotSchema.parse(JSON.parse(JSON.stringify(toWireSnapshot(cp))));
    const r = merge(undefined, wire);
    const next = stepHostRollout(r.snapshot, {
      type: 'LocalConvergedReached',
      seq: r.snapshot.context.lastEventSeq + 1,
      convergedAt: at(700),
      currentClosure: TARGET,
    });
    expect(next.ok && hostStateOf(next.snapshot)).toBe('Converged');
  });

  it('isLifecycleAhead follows the chart: strictly later states only', () => {
    expect(isLifecycleAhead('Pending', 'Converged')).toBe(true);
    expect(isLifecycleAhead('Activating', 'Deferred')).toBe(true);
    expect(isLifecycleAhead('Deferred', 'Activating')).toBe(false);
    expect(isLifecycleAhead('Failed', 'Reverted')).toBe(true);
    expect(isLifecycleAhead('Failed', 'Converged')).toBe(false);
    for (const s of HOST_STATES) expect(isLifecycleAhead(s, s)).toBe(false);
    for (const s of HOST_STATES) {
      expect(isLifecycleAhead('Converged', s)).toBe(false);
      expect(isLifecycleAhead('Reverted', s)).toBe(false);
    }
  });
});
