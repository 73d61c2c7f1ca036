// Spec §9.4 planner vectors by name, the planner half of the §9.6 runtime cases (two channels on one
// ref, D-008 cascade and accumulator, wave staging and same-tick advance), and what this planner
// adds: supersede, G19 halt, re-queue of unacknowledged dispatches, withdrawals and notices.
import { describe, expect, it } from 'vitest';
import { type PlanAction, planNext } from '../../cp/planner/index.ts';
import {
  actionsOf,
  at,
  deferrals,
  dispatchOf,
  fleetOf,
  manifestFor,
  queuedHosts,
  scenario,
  T0,
} from './support.ts';

const oneHost = fleetOf({ hosts: { h1: { channel: 'stable' } } });

describe('§9.4 planner (planner.rs unit tests)', () => {
  it('plan_next_queues_dispatch_for_pending_host_with_no_gates_blocking', () => {
    // The original handed plan_next a rollout summary `r1` without a manifest. Here the planner
    // itself selects each channel's current rollout from its manifest (spec §4.1), so the same
    // situation is the manifest of `stable` at ref r1 with its rollout open at wave 0.
    const actions = planNext(
      scenario({ fleet: oneHost, refs: { stable: 'r1' }, rollouts: { 'stable@r1': {} } }),
    );
    expect(actions).toEqual([
      {
        type: 'QueueDispatch',
        host: 'h1',
        rolloutId: 'stable@r1',
        targetClosure: 'h1-closure',
        soakDueAt: at(300),
        cause: 'new',
      },
    ]);
  });

  it('plan_next_defers_dispatch_when_quarantined', () => {
    const fleet = fleetOf({ hosts: { h1: { channel: 'stable', closure: 'bad-hash' } } });
    const actions = planNext(
      scenario({
        fleet,
        refs: { stable: 'r1' },
        rollouts: { 'stable@r1': {} },
        quarantined: [{ channel: 'stable', closure: 'bad-hash' }],
      }),
    );
    expect(deferrals(actions)).toEqual(['h1:quarantine']);
    expect(queuedHosts(actions)).toEqual([]);
  });

  it('plan_next_skips_acked_hosts', () => {
    const actions = planNext(
      scenario({
        fleet: oneHost,
        refs: { stable: 'r1' },
        rollouts: { 'stable@r1': {} },
        records: { 'stable@r1': { h1: { state: 'Pending', dispatchAckedAt: T0 } } },
      }),
    );
    expect(queuedHosts(actions)).toEqual([]);
    expect(actions).toEqual([]);
  });

  it('plan_next_emits_open_rollout_for_unopened_channel', () => {
    const actions = planNext(scenario({ fleet: oneHost, refs: { stable: 'r1' } }));
    expect(actions).toEqual([
      { type: 'OpenRollout', rolloutId: 'stable@r1', channel: 'stable', targetRef: 'r1' },
    ]);
  });

  it('plan_next_does_not_re_emit_open_rollout_for_terminal_rollout', () => {
    const actions = planNext(
      scenario({
        fleet: oneHost,
        refs: { stable: 'r1' },
        rollouts: { 'stable@r1': { state: 'Terminal', terminalAt: T0, finishedAt: T0 } },
        records: { 'stable@r1': { h1: 'Converged' } },
      }),
    );
    expect(actionsOf(actions, 'OpenRollout')).toEqual([]);
    expect(actions).toEqual([]);
  });

  it('plan_next_emits_open_rollout_for_new_target_ref_while_predecessor_active', () => {
    const actions = planNext(
      scenario({
        fleet: oneHost,
        refs: { stable: 'r2' },
        rollouts: { 'stable@r1': {} },
        records: { 'stable@r1': { h1: 'Soaking' } },
      }),
    );
    expect(actions).toEqual([
      { type: 'OpenRollout', rolloutId: 'stable@r2', channel: 'stable', targetRef: 'r2' },
      {
        type: 'RolloutEvent',
        event: {
          type: 'SuccessorOpened',
          supersededRolloutId: 'stable@r1',
          successorRolloutId: 'stable@r2',
          at: T0,
        },
      },
    ]);
  });
});

describe('§9.6 runtime cases, planner half', () => {
  it('plan_next_distinguishes_rollouts_when_two_channels_share_channel_ref', () => {
    const fleet = fleetOf({ hosts: { h1: { channel: 'stable' }, h2: { channel: 'edge' } } });
    const opened = planNext(scenario({ fleet, refs: { stable: 'deadbeef', edge: 'deadbeef' } }));
    expect(actionsOf(opened, 'OpenRollout').map((a) => a.rolloutId)).toEqual([
      'edge@deadbeef',
      'stable@deadbeef',
    ]);
    const tick = planNext(
      scenario({
        fleet,
        refs: { stable: 'deadbeef', edge: 'deadbeef' },
        rollouts: { 'stable@deadbeef': {}, 'edge@deadbeef': {} },
      }),
    );
    expect(actionsOf(tick, 'QueueDispatch').map((a) => `${a.host}@${a.rolloutId}`)).toEqual([
      'h2@edge@deadbeef',
      'h1@stable@deadbeef',
    ]);
  });

  it('d008_cascade_predecessor_dispatches_on_first_tick', () => {
    const fleet = fleetOf({
      hosts: { h1: { channel: 'stable', tags: ['ws'] }, h2: { channel: 'edge', tags: ['ws'] } },
      channelEdges: [{ gates: 'stable', gated: 'edge' }],
      budgets: [{ selector: { tags: ['ws'] }, maxInFlight: 1 }],
    });
    const actions = planNext(
      scenario({ fleet, refs: { stable: 's1', edge: 'e1' }, rollouts: { 'stable@s1': {}, 'edge@e1': {} } }),
    );
    expect(queuedHosts(actions)).toEqual(['h1']);
    expect(deferrals(actions)).toEqual(['h2:channel-edges']);
  });

  it('d008_within_tick_accumulator_prevents_over_commit', () => {
    const fleet = fleetOf({
      hosts: { h1: { channel: 'stable' }, h2: { channel: 'stable' }, h3: { channel: 'stable' } },
      budgets: [{ selector: { channel: 'stable' }, maxInFlight: 1 }],
    });
    const actions = planNext(scenario({ fleet, refs: { stable: 'r1' }, rollouts: { 'stable@r1': {} } }));
    expect(queuedHosts(actions)).toEqual(['h1']);
    expect(deferrals(actions)).toEqual(['h2:disruption-budget', 'h3:disruption-budget']);
  });

  const waved = fleetOf({
    hosts: { h1: { channel: 'stable' }, h2: { channel: 'stable' } },
    waves: { stable: [['h1'], ['h2']] },
  });

  it('wave_one_hosts_do_not_dispatch_while_wave_zero_hosts_are_pending', () => {
    const actions = planNext(
      scenario({ fleet: waved, refs: { stable: 'r1' }, rollouts: { 'stable@r1': {} } }),
    );
    expect(queuedHosts(actions)).toEqual(['h1']);
    expect(actionsOf(actions, 'RolloutEvent')).toEqual([]);
    expect(deferrals(actions)).toEqual(['h2:wave-promotion']);
  });

  it('current_wave_advances_when_every_wave_zero_host_converges', () => {
    const actions = planNext(
      scenario({
        fleet: waved,
        refs: { stable: 'r1' },
        rollouts: { 'stable@r1': {} },
        records: { 'stable@r1': { h1: 'Converged' } },
      }),
    );
    expect(actions).toEqual([
      {
        type: 'RolloutEvent',
        event: { type: 'WaveAdvanced', rolloutId: 'stable@r1', fromWave: 0, toWave: 1, at: T0 },
      },
      {
        type: 'QueueDispatch',
        host: 'h2',
        rolloutId: 'stable@r1',
        targetClosure: 'h2-closure',
        soakDueAt: at(300),
        cause: 'new',
      },
    ]);
  });

  it('a Deferred wave-0 host also lets the next wave go (ordering-eligible)', () => {
    const actions = planNext(
      scenario({
        fleet: waved,
        refs: { stable: 'r1' },
        rollouts: { 'stable@r1': {} },
        records: { 'stable@r1': { h1: 'Deferred' } },
      }),
    );
    expect(actionsOf(actions, 'RolloutEvent').map((a) => a.event.type)).toEqual(['WaveAdvanced']);
    expect(queuedHosts(actions)).toEqual(['h2']);
  });
});

describe('wave advance', () => {
  const three = fleetOf({
    hosts: { h1: { channel: 'stable' }, h2: { channel: 'stable' }, h3: { channel: 'stable' } },
    waves: { stable: [['h1'], ['h2'], ['h3']] },
  });

  it('advances one wave per tick even when the next wave is also done', () => {
    const actions = planNext(
      scenario({
        fleet: three,
        refs: { stable: 'r1' },
        rollouts: { 'stable@r1': {} },
        records: { 'stable@r1': { h1: 'Converged', h2: 'Converged' } },
      }),
    );
    expect(actionsOf(actions, 'RolloutEvent').map((a) => a.event)).toEqual([
      { type: 'WaveAdvanced', rolloutId: 'stable@r1', fromWave: 0, toWave: 1, at: T0 },
    ]);
    expect(deferrals(actions)).toEqual(['h3:wave-promotion']);
  });

  it('is not proposed to a rollout whose chart would not apply it (Opening, halted)', () => {
    for (const rollout of [{ state: 'Opening' as const }, { state: 'Failed' as const, finishedAt: T0 }]) {
      const actions = planNext(
        scenario({
          fleet: three,
          refs: { stable: 'r1' },
          rollouts: { 'stable@r1': rollout },
          records: { 'stable@r1': { h1: 'Converged' } },
        }),
      );
      expect(actionsOf(actions, 'RolloutEvent')).toEqual([]);
    }
  });

  it('an empty current wave is never promoted', () => {
    const fleet = fleetOf({ hosts: { h1: { channel: 'stable' } }, waves: { stable: [[], ['h1']] } });
    const actions = planNext(scenario({ fleet, refs: { stable: 'r1' }, rollouts: { 'stable@r1': {} } }));
    expect(actionsOf(actions, 'RolloutEvent')).toEqual([]);
    expect(deferrals(actions)).toEqual(['h1:wave-promotion']);
  });
});

describe('G19: a failed host halts its rollout', () => {
  it('the remaining Pending hosts of the wave are deferred, other rollouts go on', () => {
    const fleet = fleetOf({
      hosts: {
        h1: { channel: 'stable' },
        h2: { channel: 'stable' },
        h3: { channel: 'stable' },
        e1: { channel: 'edge' },
      },
      policies: { default: { onHealthFailure: 'halt' } },
    });
    const actions = planNext(
      scenario({
        fleet,
        refs: { stable: 'r1', edge: 'r1' },
        rollouts: { 'stable@r1': {}, 'edge@r1': {} },
        records: { 'stable@r1': { h1: 'Failed' } },
      }),
    );
    expect(deferrals(actions)).toEqual(['h2:rollout-halted', 'h3:rollout-halted']);
    expect(queuedHosts(actions)).toEqual(['e1']);
  });
});

describe('dispatch re-queue (spec §5.6) and withdrawal', () => {
  const fleet = fleetOf({ hosts: { h1: { channel: 'stable' }, h2: { channel: 'stable' } } });
  const base = { fleet, refs: { stable: 'r1' }, rollouts: { 'stable@r1': {} } };

  it('a dispatch still waiting in the queue is not queued again', () => {
    const actions = planNext(scenario({ ...base, dispatches: [dispatchOf('stable@r1', 'h1')] }));
    expect(queuedHosts(actions)).toEqual(['h2']);
  });

  it('a taken dispatch is re-queued only once it has gone unacknowledged past the threshold', () => {
    const taken = dispatchOf('stable@r1', 'h1', { takenAt: T0 });
    const early = planNext(scenario({ ...base, dispatches: [taken], now: at(29) }));
    expect(queuedHosts(early)).toEqual(['h2']);
    const late = planNext(scenario({ ...base, dispatches: [taken], now: at(30) }));
    expect(actionsOf(late, 'QueueDispatch').map((a) => `${a.host}:${a.cause}`)).toEqual([
      'h1:unacked-timeout',
      'h2:new',
    ]);
    const custom = planNext(scenario({ ...base, dispatches: [taken], now: at(5) }), {
      requeueUnackedAfterMs: 5000,
    });
    expect(actionsOf(custom, 'QueueDispatch')[0]?.cause).toBe('unacked-timeout');
  });

  it('a queued row with another target or soak deadline is refreshed', () => {
    const stale = planNext(
      scenario({ ...base, dispatches: [dispatchOf('stable@r1', 'h1', { targetClosure: 'old' })] }),
    );
    expect(actionsOf(stale, 'QueueDispatch')[0]).toMatchObject({
      host: 'h1',
      targetClosure: 'h1-closure',
      cause: 'refresh',
    });
    const soak = planNext(
      scenario({ ...base, dispatches: [dispatchOf('stable@r1', 'h1', { soakDueAt: at(1) })] }),
    );
    expect(actionsOf(soak, 'QueueDispatch')[0]).toMatchObject({ host: 'h1', cause: 'refresh' });
    // The same instant written another way is not a change.
    const same = planNext(
      scenario({
        ...base,
        dispatches: [dispatchOf('stable@r1', 'h1', { soakDueAt: '2026-05-16T01:05:00Z' })],
      }),
    );
    expect(queuedHosts(same)).toEqual(['h2']);
  });

  it('a record without soakDueAt is dispatched with now and not refreshed on every tick', () => {
    const input = scenario({ ...base, records: { 'stable@r1': { h1: { soakDueAt: null } } } });
    expect(actionsOf(planNext(input), 'QueueDispatch')[0]?.soakDueAt).toBe(T0);
    const later = planNext({
      ...input,
      now: at(15),
      dispatches: [dispatchOf('stable@r1', 'h1', { soakDueAt: T0 })],
    });
    expect(queuedHosts(later)).toEqual(['h2']);
  });

  it('a waiting dispatch that a gate now forbids is withdrawn', () => {
    const actions = planNext(
      scenario({
        ...base,
        quarantined: [{ channel: 'stable', closure: 'h1-closure' }],
        dispatches: [dispatchOf('stable@r1', 'h1')],
      }),
    );
    expect(actions.filter((a) => a.type !== 'QueueDispatch')).toEqual([
      {
        type: 'DeferDispatch',
        host: 'h1',
        rolloutId: 'stable@r1',
        gate: 'quarantine',
        reason:
          'channel stable closure h1-closure quarantined (sustained probe failures); push a new closure to clear',
      },
      { type: 'WithdrawDispatch', host: 'h1', rolloutId: 'stable@r1', cause: 'blocked' },
    ]);
  });

  it('dispatches of acknowledged hosts and of superseded or unknown rollouts are withdrawn', () => {
    const actions = planNext(
      scenario({
        ...base,
        records: { 'stable@r1': { h1: 'Activating' } },
        dispatches: [
          dispatchOf('stable@r1', 'h1'),
          dispatchOf('stable@r0', 'h2'),
          dispatchOf('stable@r1', 'ghost'),
        ],
      }),
    );
    expect(actionsOf(actions, 'WithdrawDispatch')).toEqual([
      { type: 'WithdrawDispatch', host: 'h2', rolloutId: 'stable@r0', cause: 'stale' },
      { type: 'WithdrawDispatch', host: 'ghost', rolloutId: 'stable@r1', cause: 'stale' },
      { type: 'WithdrawDispatch', host: 'h1', rolloutId: 'stable@r1', cause: 'acked' },
    ]);
  });

  it('re-queueing a host that holds its slot does not take a second one', () => {
    const tight = fleetOf({
      hosts: { h1: { channel: 'stable' }, h2: { channel: 'stable' } },
      budgets: [{ selector: { all: true }, maxInFlight: 1 }],
    });
    const actions = planNext(
      scenario({
        fleet: tight,
        refs: { stable: 'r1' },
        rollouts: { 'stable@r1': {} },
        dispatches: [dispatchOf('stable@r1', 'h2', { takenAt: T0 })],
        now: at(60),
      }),
    );
    expect(actionsOf(actions, 'QueueDispatch').map((a) => `${a.host}:${a.cause}`)).toEqual([
      'h2:unacked-timeout',
    ]);
    expect(deferrals(actions)).toEqual(['h1:disruption-budget']);
  });
});

describe('notices and retired rollouts (errors as values)', () => {
  it('a manifest keyed under the wrong channel, or for an undeclared channel, is reported and ignored', () => {
    const fleet = fleetOf({ hosts: { h1: { channel: 'stable' } } });
    const m = manifestFor(fleet, 'stable', 'r1');
    const actions = planNext({
      ...scenario({ fleet }),
      manifests: { edge: m, gone: { ...m, channel: 'gone' } },
    });
    expect(actions.map((a) => (a.type === 'Notice' ? `${a.code}:${a.channel}` : a.type))).toEqual([
      'manifest-channel-mismatch:edge',
      'channel-unknown:gone',
    ]);
  });

  it('a manifest without channelRef or with "@" in its channel is reported, never thrown', () => {
    const fleet = fleetOf({ hosts: { h1: { channel: 'stable' } } });
    const m = manifestFor(fleet, 'stable', 'r1');
    const actions = planNext({
      ...scenario({ fleet }),
      manifests: { stable: { ...m, channelRef: '' }, 'a@b': { ...m, channel: 'a@b' } },
    });
    expect(actions.map((a) => (a.type === 'Notice' ? a.code : a.type))).toEqual([
      'invalid-channel',
      'missing-channel-ref',
    ]);
  });

  it('a manifest naming a superseded rollout is reported; nothing is opened, superseded or dispatched', () => {
    const actions = planNext(
      scenario({
        fleet: oneHost,
        refs: { stable: 'r1' },
        rollouts: { 'stable@r1': { state: 'Superseded' }, 'stable@r2': {} },
        records: { 'stable@r1': { h1: 'Pending' }, 'stable@r2': { h1: 'Pending' } },
      }),
    );
    expect(actions).toHaveLength(1);
    expect(actions[0]).toMatchObject({ type: 'Notice', code: 'rollout-retired', rolloutId: 'stable@r1' });
  });

  it('a live predecessor left behind by a crash is superseded on a later tick', () => {
    const actions = planNext(
      scenario({
        fleet: oneHost,
        refs: { stable: 'r2' },
        rollouts: {
          'stable@r1': { state: 'Failed', finishedAt: T0 },
          'stable@r2': {},
          'stable@r0': { state: 'Superseded' },
        },
      }),
    );
    const events = actionsOf(actions, 'RolloutEvent').map((a) => a.event);
    expect(events).toEqual([
      { type: 'SuccessorOpened', supersededRolloutId: 'stable@r1', successorRolloutId: 'stable@r2', at: T0 },
    ]);
    expect(queuedHosts(actions)).toEqual(['h1']);
  });
});

describe('purity', () => {
  it('does not mutate its input and returns equal plans for equal inputs', () => {
    const input = scenario({
      fleet: fleetOf({
        hosts: { h1: { channel: 'stable' }, h2: { channel: 'stable' } },
        waves: { stable: [['h1'], ['h2']] },
      }),
      refs: { stable: 'r1' },
      rollouts: { 'stable@r1': {} },
      records: { 'stable@r1': { h1: 'Converged' } },
    });
    const copy = structuredClone(input);
    const first: PlanAction[] = planNext(input);
    expect(input).toEqual(copy);
    expect(planNext(copy)).toEqual(first);
  });
});
