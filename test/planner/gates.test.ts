// Spec §9.5: each gate called directly (not through planNext), by the original's case names, plus
// the rules §9.5 notes as untested (Deferred gating host, absent gating host, cross-rollout budget)
// and the gates this implementation adds or completes (G14 maxInFlightPct, G15, G19, host-busy).
import { describe, expect, it } from 'vitest';
import {
  budgetKeyOf,
  buildPlanView,
  channelEdgeGate,
  complianceWaveGate,
  type DispatchCandidate,
  disruptionBudgetGate,
  EMPTY_TICK,
  effectiveLimit,
  evaluateForDispatch,
  evaluateHostForDispatch,
  GATE_ORDER,
  hostBusyGate,
  hostEdgeGate,
  quarantineGate,
  rolloutHaltedGate,
  type TickLedger,
  wavePromotionGate,
} from '../../cp/planner/index.ts';
import { fleetOf, manifestFor, type ScenarioSpec, scenario } from './support.ts';

const candidate = (
  rolloutId: string,
  hostname: string,
  targetClosure = `${hostname}-closure`,
): DispatchCandidate => ({
  rolloutId,
  hostname,
  channel: rolloutId.split('@')[0] ?? '',
  targetClosure,
});
const viewOf = (spec: ScenarioSpec) => buildPlanView(scenario(spec));
const tickWith = (budgets: Record<string, number>, hosts: string[] = []): TickLedger => ({
  budgets: new Map(Object.entries(budgets)),
  hosts: new Set(hosts),
});

describe('§9.5 quarantine', () => {
  const fleet = fleetOf({ hosts: { h1: { channel: 'stable', closure: 'bad' } } });
  const base = { fleet, refs: { stable: 'r1' }, rollouts: { 'stable@r1': {} } };

  it('quarantine set {stable: {bad}}, target bad on stable → block', () => {
    const view = viewOf({ ...base, quarantined: [{ channel: 'stable', closure: 'bad' }] });
    expect(quarantineGate(view, candidate('stable@r1', 'h1', 'bad'), EMPTY_TICK)).toEqual({
      host: 'h1',
      rolloutId: 'stable@r1',
      gate: 'quarantine',
      reason:
        'channel stable closure bad quarantined (sustained probe failures); push a new closure to clear',
    });
  });

  it('empty quarantine set → pass', () => {
    expect(quarantineGate(viewOf(base), candidate('stable@r1', 'h1', 'bad'), EMPTY_TICK)).toBeNull();
  });

  it('a quarantine of the same closure in another channel does not block', () => {
    const view = viewOf({ ...base, quarantined: [{ channel: 'edge', closure: 'bad' }] });
    expect(quarantineGate(view, candidate('stable@r1', 'h1', 'bad'), EMPTY_TICK)).toBeNull();
  });
});

describe('§9.5 channel-edges (edge gates=infra → gated=stable)', () => {
  const fleet = fleetOf({
    hosts: { h1: { channel: 'stable' }, i1: { channel: 'infra' } },
    channelEdges: [{ gates: 'infra', gated: 'stable' }],
  });
  const c = candidate('stable@r1', 'h1');

  it('predecessor has no manifest → pass', () => {
    const view = viewOf({ fleet, refs: { stable: 'r1' }, rollouts: { 'stable@r1': {} } });
    expect(channelEdgeGate(view, c, EMPTY_TICK)).toBeNull();
  });

  it('predecessor manifest (infra, ref r-infra) but no rollout row → block', () => {
    const view = viewOf({ fleet, refs: { stable: 'r1', infra: 'r-infra' }, rollouts: { 'stable@r1': {} } });
    expect(channelEdgeGate(view, c, EMPTY_TICK)?.gate).toBe('channel-edges');
    expect(channelEdgeGate(view, c, EMPTY_TICK)?.reason).toMatch(
      /^channelEdges predecessor channel 'infra' not converged/,
    );
  });

  it('row infra@r-infra with terminalAt unset → block', () => {
    const view = viewOf({
      fleet,
      refs: { stable: 'r1', infra: 'r-infra' },
      rollouts: { 'stable@r1': {}, 'infra@r-infra': {} },
    });
    expect(channelEdgeGate(view, c, EMPTY_TICK)?.gate).toBe('channel-edges');
  });

  it('terminalAt set → pass', () => {
    const view = viewOf({
      fleet,
      refs: { stable: 'r1', infra: 'r-infra' },
      rollouts: {
        'stable@r1': {},
        'infra@r-infra': { state: 'Terminal', terminalAt: '2026-05-16T00:00:00Z' },
      },
    });
    expect(channelEdgeGate(view, c, EMPTY_TICK)).toBeNull();
  });

  it('G15: a Failed predecessor (finishedAt, no terminalAt) blocks and says it halted', () => {
    const view = viewOf({
      fleet,
      refs: { stable: 'r1', infra: 'r-infra' },
      rollouts: { 'stable@r1': {}, 'infra@r-infra': { state: 'Failed', finishedAt: '2026-05-16T00:00:00Z' } },
    });
    const block = channelEdgeGate(view, c, EMPTY_TICK);
    expect(block?.gate).toBe('channel-edges');
    expect(block?.reason).toContain('halted (Failed)');
  });

  it('the deprecated before/after naming gates the same way', () => {
    const legacy = fleetOf({
      hosts: { h1: { channel: 'stable' }, i1: { channel: 'infra' } },
      raw: { channelEdges: [{ before: 'infra', after: 'stable' }] },
    });
    const view = viewOf({
      fleet: legacy,
      refs: { stable: 'r1', infra: 'r-infra' },
      rollouts: { 'stable@r1': {} },
    });
    expect(channelEdgeGate(view, c, EMPTY_TICK)?.gate).toBe('channel-edges');
  });
});

describe('§9.5 wave-promotion', () => {
  const twoWaves = fleetOf({
    hosts: { h1: { channel: 'stable' }, h2: { channel: 'stable' }, h3: { channel: 'stable' } },
    waves: { stable: [['h1'], ['h2']] },
  });
  const base = { fleet: twoWaves, refs: { stable: 'r1' }, rollouts: { 'stable@r1': {} } };

  it('(tests.rs) waves [[h1],[h2]], currentWave 0: h2 → block', () => {
    expect(wavePromotionGate(viewOf(base), candidate('stable@r1', 'h2'), EMPTY_TICK)?.gate).toBe(
      'wave-promotion',
    );
  });

  it('(tests.rs) single wave [[h1]]: h1 → pass', () => {
    const fleet = fleetOf({ hosts: { h1: { channel: 'stable' } }, waves: { stable: [['h1']] } });
    const view = viewOf({ fleet, refs: { stable: 'r1' }, rollouts: { 'stable@r1': {} } });
    expect(wavePromotionGate(view, candidate('stable@r1', 'h1'), EMPTY_TICK)).toBeNull();
  });

  it('(inline) host in no wave of a waved channel → wave-promotion-host-unstaged naming the channel', () => {
    const block = wavePromotionGate(viewOf(base), candidate('stable@r1', 'h3'), EMPTY_TICK);
    expect(block?.gate).toBe('wave-promotion-host-unstaged');
    expect(block?.reason).toContain("channel 'stable' declares waves");
  });

  it('(inline) channel without waves → pass', () => {
    const fleet = fleetOf({ hosts: { h1: { channel: 'stable' } } });
    const view = viewOf({ fleet, refs: { stable: 'r1' }, rollouts: { 'stable@r1': {} } });
    expect(wavePromotionGate(view, candidate('stable@r1', 'h1'), EMPTY_TICK)).toBeNull();
  });

  it('(inline) wave-1 host with currentWave 0 → WavePromotion{hostWave 1, currentWave 0}', () => {
    expect(wavePromotionGate(viewOf(base), candidate('stable@r1', 'h2'), EMPTY_TICK)?.reason).toBe(
      'wave-promotion: host_wave=1 > current_wave=0',
    );
  });

  it('(inline) wave-0 host → pass', () => {
    expect(wavePromotionGate(viewOf(base), candidate('stable@r1', 'h1'), EMPTY_TICK)).toBeNull();
  });

  it('a host the fleet does not declare → pass', () => {
    expect(wavePromotionGate(viewOf(base), candidate('stable@r1', 'ghost'), EMPTY_TICK)).toBeNull();
  });
});

describe('§9.5 host-edges (edge h1 gates h2, same channel)', () => {
  const fleet = fleetOf({
    hosts: { h1: { channel: 'stable' }, h2: { channel: 'stable' }, x1: { channel: 'edge' } },
    edges: [
      { gated: 'h2', gates: 'h1' },
      { gated: 'h2', gates: 'x1' },
    ],
  });
  const viewWith = (h1: ScenarioSpec['records']) =>
    viewOf({ fleet, refs: { stable: 'r1' }, rollouts: { 'stable@r1': {} }, records: h1 });
  const c = candidate('stable@r1', 'h2');

  it('h1 Soaking → block', () => {
    expect(hostEdgeGate(viewWith({ 'stable@r1': { h1: 'Soaking' } }), c, EMPTY_TICK)).toEqual({
      host: 'h2',
      rolloutId: 'stable@r1',
      gate: 'host-edge',
      reason: "host-edge: gating host 'h1' not yet Converged",
    });
  });

  it('h1 Converged → pass (the cross-channel edge to x1 is ignored)', () => {
    expect(hostEdgeGate(viewWith({ 'stable@r1': { h1: 'Converged' } }), c, EMPTY_TICK)).toBeNull();
  });

  it('h1 Deferred → pass (ordering-eligible, spec §2.1)', () => {
    expect(hostEdgeGate(viewWith({ 'stable@r1': { h1: 'Deferred' } }), c, EMPTY_TICK)).toBeNull();
  });

  it('gating host without a record in this rollout → block', () => {
    expect(hostEdgeGate(viewWith({ 'stable@r1': { h1: null } }), c, EMPTY_TICK)?.gate).toBe('host-edge');
  });

  it('h1 Failed → block', () => {
    expect(hostEdgeGate(viewWith({ 'stable@r1': { h1: 'Failed' } }), c, EMPTY_TICK)?.gate).toBe('host-edge');
  });
});

describe('§9.5 disruption-budget', () => {
  const fleetWith = (maxInFlight: number | null, maxInFlightPct: number | null = null) =>
    fleetOf({
      hosts: { h1: { channel: 'stable' }, h2: { channel: 'stable' } },
      budgets: [{ selector: { hosts: ['h1', 'h2'] }, maxInFlight, maxInFlightPct }],
    });
  const viewWith = (fleet: ReturnType<typeof fleetWith>, records: ScenarioSpec['records']) =>
    viewOf({ fleet, refs: { stable: 'r1' }, rollouts: { 'stable@r1': {} }, records });
  const h2 = candidate('stable@r1', 'h2');

  it('budget maxInFlight 1 over {h1,h2}, h1 Activating → h2 blocked', () => {
    const block = disruptionBudgetGate(
      viewWith(fleetWith(1), { 'stable@r1': { h1: 'Activating' } }),
      h2,
      EMPTY_TICK,
    );
    expect(block).toEqual({
      host: 'h2',
      rolloutId: 'stable@r1',
      gate: 'disruption-budget',
      reason: 'disruption-budget: 1/1 in flight (hosts:h1,h2)',
    });
  });

  it('maxInFlight 2 with h1 Activating → pass', () => {
    expect(
      disruptionBudgetGate(viewWith(fleetWith(2), { 'stable@r1': { h1: 'Activating' } }), h2, EMPTY_TICK),
    ).toBeNull();
  });

  it('h1 Converged does not count → pass', () => {
    expect(
      disruptionBudgetGate(viewWith(fleetWith(1), { 'stable@r1': { h1: 'Converged' } }), h2, EMPTY_TICK),
    ).toBeNull();
  });

  it('D-008 test A: maxInFlight 1, h1 itself Pending → h1 passes (Pending is not in-flight)', () => {
    const view = viewWith(fleetWith(1), {});
    expect(disruptionBudgetGate(view, candidate('stable@r1', 'h1'), EMPTY_TICK)).toBeNull();
  });

  it('D-008 test B: no live in-flight host but the within-tick accumulator already holds 1 → block', () => {
    const view = viewWith(fleetWith(1), {});
    const selector = { tags: [], tagsAny: [], hosts: ['h1', 'h2'], channel: null, all: false };
    const tick = tickWith({ [budgetKeyOf(selector)]: 1 });
    expect(disruptionBudgetGate(view, h2, tick)?.reason).toBe(
      'disruption-budget: 1/1 in flight (hosts:h1,h2)',
    );
  });

  it('Deferred, Failed, Reverted and Pending do not count; Soaking does', () => {
    for (const state of ['Deferred', 'Failed', 'Reverted', 'Pending'] as const) {
      expect(
        disruptionBudgetGate(viewWith(fleetWith(1), { 'stable@r1': { h1: state } }), h2, EMPTY_TICK),
      ).toBeNull();
    }
    expect(
      disruptionBudgetGate(viewWith(fleetWith(1), { 'stable@r1': { h1: 'Soaking' } }), h2, EMPTY_TICK)?.gate,
    ).toBe('disruption-budget');
  });

  it('cross-rollout (D-008): a host Soaking in rollout A consumes the shared budget for rollout B', () => {
    const fleet = fleetOf({
      hosts: { a1: { channel: 'stable', tags: ['ws'] }, b1: { channel: 'edge', tags: ['ws'] } },
      budgets: [{ selector: { tags: ['ws'] }, maxInFlight: 1 }],
    });
    const view = viewOf({
      fleet,
      refs: { stable: 'r1', edge: 'r2' },
      rollouts: { 'stable@r1': {}, 'edge@r2': {} },
      records: { 'stable@r1': { a1: 'Soaking' } },
    });
    expect(disruptionBudgetGate(view, candidate('edge@r2', 'b1'), EMPTY_TICK)?.reason).toBe(
      'disruption-budget: 1/1 in flight (tags:ws)',
    );
  });

  it('cross-rollout: in-flight hosts of two rollouts under one selector add up', () => {
    const fleet = fleetOf({
      hosts: {
        a1: { channel: 'stable', tags: ['ws'] },
        b1: { channel: 'edge', tags: ['ws'] },
        c1: { channel: 'edge', tags: ['ws'] },
      },
      budgets: [{ selector: { tags: ['ws'] }, maxInFlight: 2 }],
    });
    const view = viewOf({
      fleet,
      refs: { stable: 'r1', edge: 'r2' },
      rollouts: { 'stable@r1': {}, 'edge@r2': {} },
      records: { 'stable@r1': { a1: 'Activating' }, 'edge@r2': { b1: 'Soaking' } },
    });
    expect(disruptionBudgetGate(view, candidate('edge@r2', 'c1'), EMPTY_TICK)?.reason).toBe(
      'disruption-budget: 2/2 in flight (tags:ws)',
    );
  });

  it('G17: a dispatch queued but not yet acknowledged occupies the budget', () => {
    const view = viewOf({
      fleet: fleetWith(1),
      refs: { stable: 'r1' },
      rollouts: { 'stable@r1': {} },
      dispatches: [
        {
          hostname: 'h1',
          rolloutId: 'stable@r1',
          targetClosure: 'h1-closure',
          soakDueAt: '2026-05-16T01:05:00Z',
          queuedAt: '2026-05-16T00:59:00Z',
          takenAt: null,
        },
      ],
    });
    expect(disruptionBudgetGate(view, h2, EMPTY_TICK)?.gate).toBe('disruption-budget');
    // …while the host holding that dispatch is not blocked by its own slot.
    expect(disruptionBudgetGate(view, candidate('stable@r1', 'h1'), EMPTY_TICK)).toBeNull();
  });

  it('G14: maxInFlightPct caps at ceil(pct × |hosts|), at least 1', () => {
    expect(
      disruptionBudgetGate(
        viewWith(fleetWith(null, 50), { 'stable@r1': { h1: 'Activating' } }),
        h2,
        EMPTY_TICK,
      )?.reason,
    ).toBe('disruption-budget: 1/1 in flight (hosts:h1,h2)');
    expect(
      disruptionBudgetGate(
        viewWith(fleetWith(null, 100), { 'stable@r1': { h1: 'Activating' } }),
        h2,
        EMPTY_TICK,
      ),
    ).toBeNull();
  });

  it('G14: with both set, the tighter limit wins', () => {
    expect(
      disruptionBudgetGate(viewWith(fleetWith(5, 50), { 'stable@r1': { h1: 'Activating' } }), h2, EMPTY_TICK)
        ?.gate,
    ).toBe('disruption-budget');
    expect(effectiveLimit(5, 50, 2)).toBe(1);
    expect(effectiveLimit(1, 100, 10)).toBe(1);
    expect(effectiveLimit(null, 10, 25)).toBe(3);
    expect(effectiveLimit(null, 1, 3)).toBe(1);
    expect(effectiveLimit(null, null, 10)).toBeNull();
    expect(effectiveLimit(0, null, 10)).toBe(0);
  });

  it('a budget without any limit is skipped', () => {
    expect(
      disruptionBudgetGate(
        viewWith(fleetWith(null, null), { 'stable@r1': { h1: 'Activating' } }),
        h2,
        EMPTY_TICK,
      ),
    ).toBeNull();
  });

  it('budget identity is structural: list order and repeats do not split a budget', () => {
    expect(budgetKeyOf({ tags: ['b', 'a'], tagsAny: [], hosts: [], channel: null, all: false })).toBe(
      budgetKeyOf({ tags: ['a', 'b', 'a'], tagsAny: [], hosts: [], channel: null, all: false }),
    );
    expect(budgetKeyOf({ tags: ['a'], tagsAny: [], hosts: [], channel: null, all: false })).not.toBe(
      budgetKeyOf({ tags: [], tagsAny: ['a'], hosts: [], channel: null, all: false }),
    );
  });

  it("the rollout policy's own maxInFlight caps the rollout (contract §3)", () => {
    const fleet = fleetOf({
      hosts: { h1: { channel: 'stable' }, h2: { channel: 'stable' } },
      policies: { default: { maxInFlight: 1 } },
    });
    const view = viewWith(fleet, { 'stable@r1': { h1: 'Soaking' } });
    expect(disruptionBudgetGate(view, h2, EMPTY_TICK)?.reason).toBe(
      "disruption-budget: 1/1 in flight (rollout policy 'default' cap)",
    );
  });
});

describe('§9.5 compliance-wave (waves [[h1],[h2]])', () => {
  const fleet = fleetOf({
    hosts: { h1: { channel: 'stable' }, h2: { channel: 'stable' } },
    waves: { stable: [['h1'], ['h2']] },
  });
  const base = { fleet, refs: { stable: 'r1' }, rollouts: { 'stable@r1': { currentWave: 1 } } };

  it('h1 with 2 outstanding enforce failures for the rollout → h2 blocked', () => {
    const view = viewOf({
      ...base,
      outstandingFailures: [{ rolloutId: 'stable@r1', hostname: 'h1', count: 2 }],
    });
    expect(complianceWaveGate(view, candidate('stable@r1', 'h2'), EMPTY_TICK)).toEqual({
      host: 'h2',
      rolloutId: 'stable@r1',
      gate: 'compliance-wave',
      reason: 'compliance-wave: 2 outstanding failure(s) on hosts in wave < 1',
    });
  });

  it('empty failure map → pass', () => {
    expect(complianceWaveGate(viewOf(base), candidate('stable@r1', 'h2'), EMPTY_TICK)).toBeNull();
  });

  it('failures of another rollout do not count ("resolution by replacement")', () => {
    const view = viewOf({
      ...base,
      outstandingFailures: [{ rolloutId: 'stable@r0', hostname: 'h1', count: 2 }],
    });
    expect(complianceWaveGate(view, candidate('stable@r1', 'h2'), EMPTY_TICK)).toBeNull();
  });

  it('a wave-0 host is never held by compliance', () => {
    const view = viewOf({
      ...base,
      outstandingFailures: [{ rolloutId: 'stable@r1', hostname: 'h1', count: 2 }],
    });
    expect(complianceWaveGate(view, candidate('stable@r1', 'h1'), EMPTY_TICK)).toBeNull();
  });
});

describe('G19 rollout-halted', () => {
  const fleetWith = (onHealthFailure: 'halt' | 'rollback-and-halt') =>
    fleetOf({
      hosts: { h1: { channel: 'stable' }, h2: { channel: 'stable' } },
      policies: { default: { onHealthFailure } },
    });
  const h2 = candidate('stable@r1', 'h2');

  it('a Failed host under halt holds every remaining Pending host', () => {
    const view = viewOf({
      fleet: fleetWith('halt'),
      refs: { stable: 'r1' },
      rollouts: { 'stable@r1': {} },
      records: { 'stable@r1': { h1: 'Failed' } },
    });
    expect(rolloutHaltedGate(view, h2, EMPTY_TICK)?.reason).toBe(
      "rollout-halted: host 'h1' is Failed (onHealthFailure: halt); publish a new release of 'stable' to roll out again",
    );
  });

  it('a Reverted host under rollback-and-halt keeps the halt after its rollback', () => {
    const view = viewOf({
      fleet: fleetWith('rollback-and-halt'),
      refs: { stable: 'r1' },
      rollouts: { 'stable@r1': {} },
      records: { 'stable@r1': { h1: 'Reverted' } },
    });
    expect(rolloutHaltedGate(view, h2, EMPTY_TICK)?.gate).toBe('rollout-halted');
  });

  it("the rollout's own Failed state halts it even without a failed record loaded", () => {
    const view = viewOf({
      fleet: fleetWith('halt'),
      refs: { stable: 'r1' },
      rollouts: { 'stable@r1': { state: 'Failed', finishedAt: '2026-05-16T00:00:00Z' } },
    });
    expect(rolloutHaltedGate(view, h2, EMPTY_TICK)?.reason).toContain('rollout is Failed');
  });

  it('no failure → pass', () => {
    const view = viewOf({ fleet: fleetWith('halt'), refs: { stable: 'r1' }, rollouts: { 'stable@r1': {} } });
    expect(rolloutHaltedGate(view, h2, EMPTY_TICK)).toBeNull();
  });
});

describe('host-busy', () => {
  // h1 moved from `edge` to `stable`: the older edge manifest still lists it.
  const oldFleet = fleetOf({ hosts: { h1: { channel: 'edge' } } });
  const newFleet = fleetOf({ hosts: { h1: { channel: 'stable' } }, channels: { edge: 'default' } });

  it('a host in flight in another current rollout waits', () => {
    const input = scenario({
      fleet: newFleet,
      refs: { stable: 'r2' },
      rollouts: { 'stable@r2': {}, 'edge@r1': {} },
      records: { 'edge@r1': { h1: 'Activating' } },
    });
    const view = buildPlanView({
      ...input,
      manifests: { ...input.manifests, edge: manifestFor(oldFleet, 'edge', 'r1') },
    });
    expect(hostBusyGate(view, candidate('stable@r2', 'h1'), EMPTY_TICK)?.reason).toBe(
      'host-busy: host is in flight in rollout edge@r1; one rollout at a time',
    );
  });

  it('a host already dispatched this tick waits', () => {
    const view = viewOf({ fleet: newFleet, refs: { stable: 'r2' }, rollouts: { 'stable@r2': {} } });
    expect(hostBusyGate(view, candidate('stable@r2', 'h1'), tickWith({}, ['h1']))?.gate).toBe('host-busy');
    expect(hostBusyGate(view, candidate('stable@r2', 'h1'), EMPTY_TICK)).toBeNull();
  });
});

describe('evaluate_for_dispatch (spec §4.4): first block wins', () => {
  const fleet = fleetOf({
    hosts: {
      h1: { channel: 'stable', closure: 'bad' },
      h2: { channel: 'stable', closure: 'bad' },
      i1: { channel: 'infra' },
    },
    waves: { stable: [['h1'], ['h2']] },
    channelEdges: [{ gates: 'infra', gated: 'stable' }],
  });

  it('runs the spec order with rollout-halted first and host-busy last', () => {
    expect(GATE_ORDER.map((g) => g.name)).toEqual([
      'rolloutHaltedGate',
      'quarantineGate',
      'channelEdgeGate',
      'wavePromotionGate',
      'hostEdgeGate',
      'disruptionBudgetGate',
      'complianceWaveGate',
      'hostBusyGate',
    ]);
  });

  it('quarantine is reported before channel edges and waves', () => {
    const view = viewOf({
      fleet,
      refs: { stable: 'r1', infra: 'ri' },
      rollouts: { 'stable@r1': {} },
      quarantined: [{ channel: 'stable', closure: 'bad' }],
    });
    expect(evaluateForDispatch(view, candidate('stable@r1', 'h2', 'bad'))?.gate).toBe('quarantine');
  });

  it('channel edges are reported before waves', () => {
    const view = viewOf({ fleet, refs: { stable: 'r1', infra: 'ri' }, rollouts: { 'stable@r1': {} } });
    expect(evaluateForDispatch(view, candidate('stable@r1', 'h2', 'bad'))?.gate).toBe('channel-edges');
  });

  it('§4.6: heartbeat synthesis gets a block, never a pass, when there is nothing to evaluate', () => {
    const input = scenario({ fleet, refs: { stable: 'r1' }, rollouts: { 'stable@r1': {} } });
    expect(evaluateHostForDispatch(input, 'stable@r0', 'h1')?.gate).toBe('no-plan-state');
    expect(evaluateHostForDispatch(input, 'stable@r1', 'i1')?.gate).toBe('no-plan-state');
    expect(evaluateHostForDispatch(input, 'stable@r1', 'h1')).toBeNull();
    expect(evaluateHostForDispatch(input, 'stable@r1', 'h2')?.gate).toBe('wave-promotion');
  });
});
