// compute_replay_from (spec §7.5) with G13: the header is the highest seq the CP applied; the agent
// re-sends what comes after it. Reported seqs decide when present; closures only as the fallback.
import { describe, expect, it } from 'vitest';
import { computeReplayFrom, recoverFromHeartbeat, replayFromByRollout } from '../../cp/recovery/index.ts';
import { heartbeatRequestSchema } from '../../proto/heartbeat.ts';
import { allowAll, at, HOST, PRIOR, ROLLOUT, records, TARGET } from './support/fixtures.ts';

describe('computeReplayFrom', () => {
  it('closure fallback (§7.5): same closure as the CP saw → none; different or unseen → lastEventSeq', () => {
    const soaking = records.soaking(); // seq 2, currentClosure = target
    expect(computeReplayFrom(soaking, { currentClosure: TARGET })).toBeNull();
    expect(computeReplayFrom(soaking, { currentClosure: PRIOR })).toBe(2);
    expect(computeReplayFrom(records.activating(), { currentClosure: TARGET })).toBe(1);
    expect(computeReplayFrom(records.pending(), { currentClosure: PRIOR })).toBe(0);
  });

  it('no closure and no seq: nothing to compare, no header', () => {
    expect(computeReplayFrom(records.activating(), {})).toBeNull();
    expect(computeReplayFrom(records.activating(), { currentClosure: null, lastEventSeq: null })).toBeNull();
  });

  it('G13: an agent ahead is told the CP’s highest applied seq; level or behind gets nothing', () => {
    const activating = records.activating(); // seq 1
    expect(computeReplayFrom(activating, { lastEventSeq: 4 })).toBe(1);
    expect(computeReplayFrom(activating, { lastEventSeq: 1 })).toBeNull();
    // Behind: CP synthesis ran ahead (§2.9); the bootstrap snapshot realigns the agent instead.
    expect(computeReplayFrom(activating, { lastEventSeq: 0 })).toBeNull();
  });

  it('G13: the reported seq wins over a closure mismatch', () => {
    expect(computeReplayFrom(records.soaking(), { lastEventSeq: 2, currentClosure: PRIOR })).toBeNull();
    expect(computeReplayFrom(records.soaking(), { lastEventSeq: 3, currentClosure: TARGET })).toBe(2);
  });

  it('terminal records get no replay: every re-sent event would be refused', () => {
    expect(computeReplayFrom(records.converged(), { lastEventSeq: 9 })).toBeNull();
    expect(computeReplayFrom(records.converged(), { currentClosure: PRIOR })).toBeNull();
  });

  it('replayFromByRollout covers every reported rollout the CP holds, and only drifted ones', () => {
    const recs = [
      records.activating({ rolloutId: 'stable@a' }),
      records.soaking({ rolloutId: 'stable@b' }),
      records.pending({ rolloutId: 'stable@c' }),
    ];
    expect(replayFromByRollout(recs, { 'stable@a': 5, 'stable@b': 2, 'stable@zzz': 7 })).toEqual({
      'stable@a': 1,
    });
  });
});

describe('in a heartbeat', () => {
  const request = (fields: Record<string, unknown>) =>
    heartbeatRequestSchema.parse({ hostname: HOST, at: at(500), ...fields });

  it('the header follows the heartbeat’s rollout_id, using its reported seq; the body lists every rollout', () => {
    const r = recoverFromHeartbeat({
      request: request({
        rollout_id: ROLLOUT,
        current_closure: PRIOR,
        last_event_seq_by_rollout: { [ROLLOUT]: 3, 'stable@other': 9 },
      }),
      records: [records.activating(), records.activating({ rolloutId: 'stable@other' })],
      now: at(500),
      gatesAllow: allowAll,
    });
    expect(r.replayFrom).toBe(1);
    expect(r.response.replay_from_by_rollout).toEqual({ [ROLLOUT]: 1, 'stable@other': 1 });
  });

  it('computed after synthesis: a completion synthesised from the heartbeat leaves no drift', () => {
    const r = recoverFromHeartbeat({
      request: request({ rollout_id: ROLLOUT, current_closure: TARGET }),
      records: [records.activating()],
      now: at(500),
      gatesAllow: allowAll,
    });
    expect(r.synthesis.events).toHaveLength(1);
    expect(r.replayFrom).toBeNull();
  });

  it('a rollout the CP has no record of gets no header', () => {
    const r = recoverFromHeartbeat({
      request: request({ rollout_id: 'stable@unknown', current_closure: PRIOR }),
      records: [records.activating()],
      now: at(500),
      gatesAllow: allowAll,
    });
    expect(r.replayFrom).toBeNull();
  });

  it('records of another host are ignored', () => {
    const r = recoverFromHeartbeat({
      request: request({ current_closure: TARGET }),
      records: [records.activating({ hostname: 'h2' })],
      now: at(500),
      gatesAllow: allowAll,
    });
    expect(r.synthesis.events).toEqual([]);
    expect(r.response.bootstrap_rollouts).toEqual([]);
  });
});
