// Properties of one plan tick over generated fleets and states: the disruption budget is never
// exceeded across rollouts, the planner is deterministic (also under reordered input), no host is
// dispatched twice, a quarantined (channel, closure) is never dispatched, a later wave never goes
// before the current one is ordering-eligible, and a halted rollout dispatches nothing (G19).
// The oracles recompute what they need from the input, not from the planner's own view.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  budgetKeyOf,
  effectiveLimit,
  type PlanAction,
  type PlannerInput,
  planNext,
} from '../../cp/planner/index.ts';
import { isInFlight, isOrderingEligible } from '../../machines/index.ts';
import { HOST_STATES, type HostState, type RolloutState } from '../../proto/index.ts';
import { actionsOf, at, type BudgetSpec, fleetOf, type HostSpec, scenario } from './support.ts';

const RUNS = { numRuns: 300 };
const CHANNELS = ['stable', 'edge'] as const;

const hostSpecArb: fc.Arbitrary<HostSpec> = fc.record({
  channel: fc.constantFrom(...CHANNELS),
  tags: fc.subarray(['a', 'b']),
  closure: fc.constantFrom('c1', 'c2'),
});

const selectorArb: fc.Arbitrary<BudgetSpec['selector']> = fc.constantFrom(
  { all: true },
  { tags: ['a'] },
  { tags: ['b', 'a'] },
  { tagsAny: ['b'] },
  { channel: 'stable' },
  { hosts: ['h0', 'h1', 'h2'] },
);

const budgetArb: fc.Arbitrary<BudgetSpec> = fc.record({
  selector: selectorArb,
  maxInFlight: fc.option(fc.integer({ min: 0, max: 3 }), { nil: null }),
  maxInFlightPct: fc.option(fc.integer({ min: 0, max: 100 }), { nil: null }),
});

const stateArb: fc.Arbitrary<HostState> = fc.oneof(
  { weight: 4, arbitrary: fc.constant<HostState>('Pending') },
  { weight: 3, arbitrary: fc.constantFrom(...HOST_STATES) },
);

const rolloutStateArb: fc.Arbitrary<RolloutState> = fc.oneof(
  { weight: 6, arbitrary: fc.constant<RolloutState>('Active') },
  { weight: 1, arbitrary: fc.constantFrom<RolloutState>('Converging', 'Opening', 'Failed', 'Terminal') },
);

/** A whole planner input: fleet, manifests, rollouts (current and older), records and queues. */
const inputArb: fc.Arbitrary<PlannerInput> = fc
  .integer({ min: 1, max: 10 })
  .chain((n) => {
    const names = Array.from({ length: n }, (_, i) => `h${i}`);
    const perHost = <T>(arb: fc.Arbitrary<T>) => fc.tuple(...names.map(() => arb));
    return fc.record({
      names: fc.constant(names),
      hosts: perHost(hostSpecArb),
      // -1: the host is in no wave of its channel.
      waveOf: perHost(
        fc.oneof(
          { weight: 9, arbitrary: fc.integer({ min: 0, max: 2 }) },
          { weight: 1, arbitrary: fc.constant(-1) },
        ),
      ),
      waved: fc.record({ stable: fc.boolean(), edge: fc.boolean() }),
      edges: fc.array(fc.tuple(fc.constantFrom(...names), fc.constantFrom(...names)), { maxLength: 4 }),
      channelEdge: fc.constantFrom(null, 'stable', 'edge'),
      budgets: fc.array(budgetArb, { maxLength: 3 }),
      policyCap: fc.option(fc.integer({ min: 1, max: 3 }), { nil: null }),
      refs: fc.record({ stable: fc.constantFrom('r1', 'r2'), edge: fc.constantFrom('r1', 'r2') }),
      opened: fc.record({ stable: fc.boolean(), edge: fc.boolean() }),
      older: fc.record({ stable: fc.boolean(), edge: fc.boolean() }),
      rolloutState: fc.record({ stable: rolloutStateArb, edge: rolloutStateArb }),
      currentWave: fc.record({
        stable: fc.integer({ min: 0, max: 2 }),
        edge: fc.integer({ min: 0, max: 2 }),
      }),
      states: perHost(stateArb),
      acked: perHost(fc.boolean()),
      dispatch: perHost(fc.constantFrom('none', 'none', 'queued', 'taken-recent', 'taken-old')),
      failures: perHost(fc.constantFrom(0, 0, 0, 1, 2)),
      quarantine: fc.subarray(['stable/c1', 'stable/c2', 'edge/c1', 'edge/c2'], { maxLength: 2 }),
      nowOffset: fc.integer({ min: 0, max: 120 }),
    });
  })
  .map((g) => {
    const hosts = Object.fromEntries(g.names.map((h, i) => [h, g.hosts[i] ?? { channel: 'stable' }]));
    const waves: Record<string, string[][]> = {};
    for (const channel of CHANNELS) {
      if (!g.waved[channel]) continue;
      const lists: string[][] = [[], [], []];
      g.names.forEach((h, i) => {
        const w = g.waveOf[i] ?? 0;
        if (hosts[h]?.channel === channel && w >= 0) lists[w]?.push(h);
      });
      waves[channel] = lists;
    }
    const fleet = fleetOf({
      hosts,
      waves,
      edges: g.edges.filter(([a, b]) => a !== b).map(([gated, gates]) => ({ gated, gates })),
      channelEdges:
        g.channelEdge === null
          ? []
          : [{ gates: g.channelEdge, gated: g.channelEdge === 'stable' ? 'edge' : 'stable' }],
      budgets: g.budgets,
      policies: { default: { maxInFlight: g.policyCap } },
    });
    const present = CHANNELS.filter((c) => g.names.some((h) => hosts[h]?.channel === c));
    const refs = Object.fromEntries(present.map((c) => [c, g.refs[c]]));
    const rollouts: Record<string, { state: RolloutState; currentWave: number; terminalAt: string | null }> =
      {};
    const records: Record<string, Record<string, { state: HostState; dispatchAckedAt: string | null }>> = {};
    const dispatches: PlannerInput['dispatches'][number][] = [];
    const outstandingFailures: PlannerInput['outstandingFailures'][number][] = [];
    const now = at(100 + g.nowOffset);
    for (const c of present) {
      const id = `${c}@${g.refs[c]}`;
      if (g.older[c]) rollouts[`${c}@r0`] = { state: 'Active', currentWave: 0, terminalAt: null };
      if (!g.opened[c]) continue;
      const state = g.rolloutState[c];
      rollouts[id] = {
        state,
        currentWave: g.currentWave[c],
        terminalAt: state === 'Terminal' ? at(0) : null,
      };
      const perHost: Record<string, { state: HostState; dispatchAckedAt: string | null }> = {};
      g.names.forEach((h, i) => {
        if (hosts[h]?.channel !== c) return;
        const hostState = g.states[i] ?? 'Pending';
        perHost[h] = {
          state: hostState,
          dispatchAckedAt: hostState === 'Pending' && !g.acked[i] ? null : at(0),
        };
        const d = g.dispatch[i];
        if (d !== undefined && d !== 'none') {
          const takenAt = d === 'queued' ? null : d === 'taken-recent' ? now : at(0);
          dispatches.push({
            hostname: h,
            rolloutId: id,
            targetClosure: 'c1',
            soakDueAt: at(300),
            queuedAt: at(0),
            takenAt,
          });
        }
        const f = g.failures[i] ?? 0;
        if (f > 0) outstandingFailures.push({ rolloutId: id, hostname: h, count: f });
      });
      records[id] = perHost;
    }
    return scenario({
      fleet,
      refs,
      rollouts,
      records,
      dispatches,
      outstandingFailures,
      quarantined: g.quarantine.map((q) => {
        const [channel = '', closure = ''] = q.split('/');
        return { channel, closure };
      }),
      now,
    });
  });

/** The rollouts the spec says are planned: each channel's manifest rollout, opened and live. */
function plannedIds(input: PlannerInput): Set<string> {
  const ids = new Set<string>();
  for (const [channel, m] of Object.entries(input.manifests)) {
    const id = `${channel}@${m.channelRef}`;
    const r = input.rollouts.find((s) => s.rolloutId === id);
    if (r !== undefined && r.state !== 'Superseded' && r.state !== 'Pruned') ids.add(id);
  }
  return ids;
}

function shuffled<T>(xs: readonly T[], seed: number): T[] {
  const out = [...xs];
  let s = seed;
  for (let i = out.length - 1; i > 0; i--) {
    s = (s * 1103515245 + 12345) % 2147483648;
    const j = s % (i + 1);
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

const queued = (plan: readonly PlanAction[]) => actionsOf(plan, 'QueueDispatch');

describe('planner properties', () => {
  it('the disruption budget (and the policy cap) is never exceeded in one tick, across rollouts', () => {
    fc.assert(
      fc.property(inputArb, (input) => {
        const plan = planNext(input);
        const planned = plannedIds(input);
        const withdrawn = new Set(actionsOf(plan, 'WithdrawDispatch').map((w) => `${w.rolloutId}/${w.host}`));
        const holdsSlot = (rolloutId: string, host: string) =>
          input.dispatches.some((d) => d.rolloutId === rolloutId && d.hostname === host);
        const records = input.hostRecords.filter((r) => planned.has(r.rolloutId));
        const occupying = records.filter(
          (r) =>
            isInFlight(r.state) ||
            (r.state === 'Pending' && r.dispatchAckedAt === null && holdsSlot(r.rolloutId, r.hostname)),
        );
        const fresh = queued(plan).filter((q) => q.cause === 'new');
        expect(fresh.every((q) => !withdrawn.has(`${q.rolloutId}/${q.host}`))).toBe(true);

        for (const budget of input.fleet.disruptionBudgets) {
          const m = Object.values(input.manifests)[0];
          const frozen = m?.disruptionBudgets.find(
            (b) => budgetKeyOf(b.selector) === budgetKeyOf(budget.selector),
          );
          const limit = effectiveLimit(budget.maxInFlight, budget.maxInFlightPct, frozen?.hosts.length ?? 0);
          if (limit === null || frozen === undefined) continue;
          const members = new Set(frozen.hosts);
          const before = occupying.filter((r) => members.has(r.hostname)).length;
          const added = fresh.filter((q) => members.has(q.host)).length;
          if (added > 0) expect(before + added).toBeLessThanOrEqual(limit);
        }
        const cap = input.fleet.rolloutPolicies.default?.maxInFlight ?? null;
        if (cap !== null) {
          for (const id of planned) {
            const before = occupying.filter((r) => r.rolloutId === id).length;
            const added = fresh.filter((q) => q.rolloutId === id).length;
            if (added > 0) expect(before + added).toBeLessThanOrEqual(cap);
          }
        }
      }),
      RUNS,
    );
  });

  it('is deterministic: equal inputs, in any array order, give the same plan', () => {
    fc.assert(
      fc.property(inputArb, fc.integer({ min: 1, max: 1_000_000 }), (input, seed) => {
        const plan = planNext(input);
        expect(planNext(structuredClone(input))).toEqual(plan);
        const reordered: PlannerInput = {
          ...input,
          manifests: Object.fromEntries(shuffled(Object.entries(input.manifests), seed)),
          rollouts: shuffled(input.rollouts, seed),
          hostRecords: shuffled(input.hostRecords, seed + 1),
          dispatches: shuffled(input.dispatches, seed + 2),
          outstandingFailures: shuffled(input.outstandingFailures, seed + 3),
          quarantined: shuffled(input.quarantined, seed + 4),
        };
        expect(planNext(reordered)).toEqual(plan);
      }),
      RUNS,
    );
  });

  it('never dispatches a host twice in one tick, and decides each Pending host at most once', () => {
    fc.assert(
      fc.property(inputArb, (input) => {
        const plan = planNext(input);
        const hosts = queued(plan).map((q) => q.host);
        expect(new Set(hosts).size).toBe(hosts.length);
        const decided = plan
          .filter((a) => a.type === 'QueueDispatch' || a.type === 'DeferDispatch')
          .map((a) =>
            a.type === 'QueueDispatch' || a.type === 'DeferDispatch' ? `${a.rolloutId}/${a.host}` : '',
          );
        expect(new Set(decided).size).toBe(decided.length);
      }),
      RUNS,
    );
  });

  it('never dispatches a quarantined (channel, closure)', () => {
    fc.assert(
      fc.property(inputArb, (input) => {
        for (const q of queued(planNext(input))) {
          const record = input.hostRecords.find((r) => r.rolloutId === q.rolloutId && r.hostname === q.host);
          expect(record).toBeDefined();
          const banned = input.quarantined.some(
            (e) => e.channel === record?.channel && e.closure === q.targetClosure,
          );
          expect(banned).toBe(false);
        }
      }),
      RUNS,
    );
  });

  it('never dispatches a later wave before the current one is ordering-eligible', () => {
    fc.assert(
      fc.property(inputArb, (input) => {
        for (const q of queued(planNext(input))) {
          const channel = input.fleet.hosts[q.host]?.channel ?? '';
          const waves = input.fleet.waves[channel] ?? [];
          if (waves.length === 0) continue;
          const wave = waves.findIndex((w) => w.hosts.includes(q.host));
          expect(wave).toBeGreaterThanOrEqual(0);
          const current = input.rollouts.find((r) => r.rolloutId === q.rolloutId)?.currentWave ?? 0;
          if (wave <= current) continue;
          // Only one step past the stored wave, and only when that wave is done (spec §3.7).
          expect(wave).toBe(current + 1);
          const done = waves[current]?.hosts ?? [];
          expect(done.length).toBeGreaterThan(0);
          for (const h of done) {
            const state = input.hostRecords.find(
              (r) => r.rolloutId === q.rolloutId && r.hostname === h,
            )?.state;
            expect(state !== undefined && isOrderingEligible(state)).toBe(true);
          }
        }
      }),
      RUNS,
    );
  });

  it('G19: a rollout with a Failed or Reverted host dispatches nothing', () => {
    fc.assert(
      fc.property(inputArb, (input) => {
        const halted = new Set(
          input.hostRecords
            .filter((r) => r.state === 'Failed' || r.state === 'Reverted')
            .map((r) => r.rolloutId),
        );
        for (const q of queued(planNext(input))) expect(halted.has(q.rolloutId)).toBe(false);
      }),
      RUNS,
    );
  });
});
