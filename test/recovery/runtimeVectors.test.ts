// Spec §9.6 CP runtime vectors that concern heartbeats (runtime_smoke.rs), run against the pure
// heartbeat recovery: same setups, same expectations, minus the reducer task and database. Where
// G12 changes the original's answer the vector says so and a companion test pins the new rule.
import { describe, expect, it } from 'vitest';
import { type GateCheck, recoverFromHeartbeat } from '../../cp/recovery/index.ts';
import { type HostRolloutSnapshot, hostStateOf } from '../../machines/index.ts';
import {
  encodeHeartbeatResponse,
  type HeartbeatRequest,
  heartbeatRequestSchema,
} from '../../proto/heartbeat.ts';
import { allowAll, at, HOST, PRIOR, ROLLOUT, records, TARGET } from './support/fixtures.ts';

function heartbeat(fields: Partial<HeartbeatRequest>): HeartbeatRequest {
  return heartbeatRequestSchema.parse({ hostname: HOST, at: at(500), ...fields });
}

function recover(
  record: HostRolloutSnapshot,
  request: HeartbeatRequest,
  now = at(500),
  gatesAllow: GateCheck = allowAll,
) {
  const r = recoverFromHeartbeat({ request, records: [record], now, gatesAllow });
  const after = r.synthesis.snapshots[0];
  if (after === undefined) expect.fail('the record went missing');
  return { ...r, after };
}

describe('§9.6 CP runtime vectors (heartbeat)', () => {
  it('heartbeat_with_closure_mismatch_returns_replay_from_seq', () => {
    const r = recover(
      records.activating(),
      heartbeat({ rollout_id: ROLLOUT, current_closure: 'something-else' }),
    );
    expect(r.replayFrom).toBe(1);
    expect(hostStateOf(r.after)).toBe('Activating');
  });

  it('heartbeat_synthesizes_activation_completed_when_agent_reports_target_in_activating', () => {
    const r = recover(records.activating(), heartbeat({ current_closure: TARGET }));
    expect(r.replayFrom).toBeNull();
    expect(hostStateOf(r.after)).toBe('Soaking');
    expect(r.after.context.activationCompletedAt).toBe(at(500));
    expect(r.after.context.currentClosure).toBe(TARGET);
    expect(r.synthesis.events.map((e) => [e.event.type, e.event.seq])).toEqual([
      ['RemoteActivationCompleted', 2],
    ]);
  });

  it('heartbeat_response_includes_bootstrap_for_active_rollouts_when_agent_supplies_no_rollout_id', () => {
    const r = recover(records.activating(), heartbeat({ current_closure: TARGET }));
    expect(r.response.bootstrap_rollouts).toHaveLength(1);
    expect(r.response.bootstrap_rollouts[0]).toMatchObject({
      hostname: HOST,
      rolloutId: ROLLOUT,
      targetClosure: TARGET,
      state: 'Soaking',
      currentClosure: TARGET,
      activationCompletedAt: at(500),
      lastEventSeq: 2,
    });
    // On the wire: received_at echoes the agent's `at`; null snapshot fields are omitted.
    const body = encodeHeartbeatResponse(r.response);
    expect(body.received_at).toBe(at(500));
    expect(body).not.toHaveProperty('replay_from_by_rollout');
    const [snap] = body.bootstrap_rollouts as Record<string, unknown>[];
    expect(snap).not.toHaveProperty('activationStartedAt');
    expect(snap).toMatchObject({ currentClosureAtDispatch: PRIOR });
  });

  it('heartbeat_response_omits_bootstrap_when_agent_supplies_rollout_id', () => {
    const r = recover(records.pending(), heartbeat({ rollout_id: ROLLOUT }));
    expect(r.response.bootstrap_rollouts).toEqual([]);
    expect(encodeHeartbeatResponse(r.response)).toEqual({ received_at: at(500) });
    expect(r.replayFrom).toBeNull();
  });

  it('heartbeat_does_not_synthesize_when_current_closure_does_not_match_target', () => {
    const r = recover(records.activating(), heartbeat({ current_closure: 'not-the-target' }));
    expect(hostStateOf(r.after)).toBe('Activating');
    expect(r.after.context.activationCompletedAt).toBeNull();
    expect(r.synthesis.events).toEqual([]);
    expect(r.synthesis.recoveries).toEqual([]);
  });

  it('heartbeat_synthesizes_pending_to_converged_when_agent_already_at_target (soak already due)', () => {
    // The original's harness had soakDueAt in the future and converged at soakDueAt anyway (G12);
    // here the soak (due at T0+300 s) has elapsed by the heartbeat at T0+500 s.
    const r = recover(records.pending(), heartbeat({ current_closure: TARGET }));
    expect(hostStateOf(r.after)).toBe('Converged');
    expect(r.after.context).toMatchObject({
      convergedAt: at(500),
      activationCompletedAt: at(500),
      dispatchAckedAt: at(500),
      currentClosure: TARGET,
      lastEventSeq: 3,
    });
    expect(r.synthesis.events.map((e) => [e.event.type, e.event.seq])).toEqual([
      ['RemoteDispatchAck', 1],
      ['RemoteActivationCompleted', 2],
      ['RemoteConverged', 3],
    ]);
    // Converged is not active: nothing left to bootstrap.
    expect(r.response.bootstrap_rollouts).toEqual([]);
  });

  it('G12: a Pending host on target before its soak is due stops at Soaking, never a future convergedAt', () => {
    const r = recover(records.pending({ soakDueAt: at(900) }), heartbeat({ current_closure: TARGET }));
    expect(hostStateOf(r.after)).toBe('Soaking');
    expect(r.after.context.convergedAt).toBeNull();
    expect(r.synthesis.recoveries[0]).toMatchObject({
      kind: 'advanced',
      case: 'pending-chain',
      to: 'Soaking',
      stop: { reason: 'soak-not-due', soakDueAt: at(900) },
    });
    expect(r.response.bootstrap_rollouts.map((s) => s.state)).toEqual(['Soaking']);

    // A heartbeat after the soak converges it, stamped with that heartbeat's time.
    const later = recover(r.after, heartbeat({ current_closure: TARGET, at: at(960) }), at(960));
    expect(hostStateOf(later.after)).toBe('Converged');
    expect(later.after.context.convergedAt).toBe(at(960));
    expect(later.synthesis.events.map((e) => [e.event.type, e.event.seq])).toEqual([['RemoteConverged', 3]]);
  });
});
