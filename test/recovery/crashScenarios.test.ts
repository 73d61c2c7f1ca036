// The five boot-recovery crash scenarios of seed 000 (`recovery.rs`) and spec §6.15, plus the two
// extra rows (mid-rollback, CP wiped): the CP's answer to the restarted agent's first heartbeat
// (rollout_id null, current closure from /run/current-system) and what the agent rebuilds from it.
import { describe, expect, it } from 'vitest';
import { mergeBootstrapSnapshot } from '../../agent/recovery/mergeBootstrapSnapshot.ts';
import { activationDeadline, recoverFromHeartbeat } from '../../cp/recovery/index.ts';
import { type HostRolloutSnapshot, hostStateOf, stepHostRollout } from '../../machines/index.ts';
import { heartbeatRequestSchema } from '../../proto/heartbeat.ts';
import { activatingEffects, allowAll, at, HOST, PRIOR, records, TARGET } from './support/fixtures.ts';

const NOW = at(500);

/** The restarted agent's first heartbeat against the CP's records for it. */
function bootHeartbeat(recs: HostRolloutSnapshot[], currentClosure: string | null, now = NOW) {
  const request = heartbeatRequestSchema.parse({ hostname: HOST, current_closure: currentClosure, at: now });
  const r = recoverFromHeartbeat({ request, records: recs, now, gatesAllow: allowAll });
  // A cold agent (no records left) rebuilds from every snapshot.
  const agent = r.response.bootstrap_rollouts.map((s) =>
    mergeBootstrapSnapshot(undefined, s, { onHealthFailure: 'halt' }),
  );
  return { ...r, agent };
}

describe('seed 000 crash scenarios, CP side', () => {
  it('1. fresh install: no record, nothing synthesised, no snapshots, no replay', () => {
    for (const closure of [PRIOR, null]) {
      const r = bootHeartbeat([], closure);
      expect(r.synthesis.events).toEqual([]);
      expect(r.replayFrom).toBeNull();
      expect(r.response.bootstrap_rollouts).toEqual([]);
    }
  });

  it('2. mid-Pending (host on prior): record stays Pending, snapshot rehydrates it with no effects', () => {
    const r = bootHeartbeat([records.pending()], PRIOR);
    expect(r.synthesis.events).toEqual([]);
    expect(r.response.bootstrap_rollouts.map((s) => s.state)).toEqual(['Pending']);
    expect(r.agent).toMatchObject([{ ok: true, outcome: 'created', effects: [] }]);
  });

  it('3a. mid-Activating, switch took: Soaking, agent rehydrates Soaking and resets its probes', () => {
    const r = bootHeartbeat([records.activating()], TARGET);
    expect(r.synthesis.snapshots.map(hostStateOf)).toEqual(['Soaking']);
    expect(r.response.bootstrap_rollouts[0]).toMatchObject({ state: 'Soaking', activationCompletedAt: NOW });
    expect(r.agent).toMatchObject([
      {
        ok: true,
        outcome: 'created',
        effects: [{ type: 'LocalResetProbeCache', rolloutId: 'stable@stable-rollout' }],
      },
    ]);
  });

  it('3b. mid-Activating, switch did not take: stays Activating until the activation deadline fails it', () => {
    const r = bootHeartbeat([records.activating()], PRIOR);
    expect(r.synthesis.events).toEqual([]);
    const [record] = r.synthesis.snapshots;
    if (record === undefined) return expect.fail('record missing');
    expect(hostStateOf(record)).toBe('Activating');
    const timeout = activationDeadline(record, at(1000), 360);
    if (timeout === null) return expect.fail('no deadline event');
    const failed = stepHostRollout(record, timeout);
    expect(failed.ok && hostStateOf(failed.snapshot)).toBe('Failed');
  });

  it('3b under rollback-and-halt: after the deadline the host on its prior closure reads as reverted', () => {
    // Consistent with a reported ActivationFailed under that policy: the CP's Failed record of a host
    // on its pre-dispatch closure becomes Reverted (and quarantines the target) on the next heartbeat.
    const record = records.activating({ onHealthFailure: 'rollback-and-halt' });
    const timeout = activationDeadline(record, at(1000), 360);
    if (timeout === null) return expect.fail('no deadline event');
    const failed = stepHostRollout(record, timeout);
    if (!failed.ok) return expect.fail(JSON.stringify(failed.error));
    const r = bootHeartbeat([failed.snapshot], PRIOR, at(1060));
    expect(r.synthesis.snapshots.map(hostStateOf)).toEqual(['Reverted']);
  });

  it('4. mid-Soaking: nothing synthesised, agent rehydrates Soaking and soaks again', () => {
    const r = bootHeartbeat([records.soaking()], TARGET);
    expect(r.synthesis.events).toEqual([]);
    expect(r.response.bootstrap_rollouts.map((s) => s.state)).toEqual(['Soaking']);
    expect(r.agent).toMatchObject([{ ok: true, effects: [{ type: 'LocalResetProbeCache' }] }]);
  });

  it('5. post-Converged: not active, nothing to do, nothing to bootstrap', () => {
    const r = bootHeartbeat([records.converged()], TARGET);
    expect(r.synthesis.events).toEqual([]);
    expect(r.response.bootstrap_rollouts).toEqual([]);
  });

  it('+ mid-rollback: Failed (rollback-and-halt) on the pre-dispatch closure → Reverted + quarantine', () => {
    const r = bootHeartbeat([records.failed('rollback-and-halt')], PRIOR);
    expect(r.synthesis.snapshots.map(hostStateOf)).toEqual(['Reverted']);
    expect(r.synthesis.recoveries[0]).toMatchObject({
      effects: expect.arrayContaining([
        { type: 'RemoteInsertQuarantine', channel: 'stable', closure: TARGET },
      ]),
    });
    expect(r.response.bootstrap_rollouts).toEqual([]);
  });

  it('+ CP database wiped: the re-opened Pending record of a host on target converges, no re-activation', () => {
    const r = bootHeartbeat([records.pending({ dispatchedAt: at(450), soakDueAt: at(450) })], TARGET);
    expect(r.synthesis.snapshots.map(hostStateOf)).toEqual(['Converged']);
    for (const rec of r.synthesis.recoveries) {
      if (rec.kind === 'advanced') expect(activatingEffects(rec.effects)).toEqual([]);
    }
  });
});
