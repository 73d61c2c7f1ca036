// Spec §9.9: the v0.1 reconciler fixtures, translated to this planner. Each fixture's v0.1 data is
// kept as written (test/planner/fixtures/); the test checks that the fleet still parses in its
// legacy shape, that the v0.1 expectation is one the spec's mapping (§4.7) turns into the v0.2
// plan given, and that planNext produces exactly that plan.
import { describe, expect, it } from 'vitest';
import { buildPlanView, planNext } from '../../cp/planner/index.ts';
import { allHostsConverged } from '../../machines/index.ts';
import { LEGACY_FIXTURES } from './fixtures/legacyFixtures.ts';
import { LEGACY_NOW, type LegacyAction } from './fixtures/legacyFormat.ts';
import { translateLegacy } from './fixtures/translateLegacy.ts';

/** The v0.2 plan action kinds each v0.1 action maps to (spec §4.7); [] = not a planner action. */
const PLAN_KINDS: Readonly<Record<LegacyAction['action'], readonly string[]>> = {
  open_rollout: ['OpenRollout'],
  dispatch_host: ['QueueDispatch'],
  skip: ['DeferDispatch', 'QueueDispatch'],
  promote_wave: ['RolloutEvent'],
  soak_host: [],
  converge_rollout: [],
  halt_rollout: ['DeferDispatch'],
  rollback_host: [],
  channel_unknown: [],
};

describe('§9.9 legacy reconciler fixtures', () => {
  it('covers every fixture the spec lists', () => {
    expect(LEGACY_FIXTURES.map((f) => f.name).sort()).toEqual(
      [
        'budgets_edges/budget_across_rollouts',
        'budgets_edges/budget_exhausted_skip',
        'budgets_edges/edge_predecessor_blocks',
        'budgets_edges/edge_predecessor_done_dispatch',
        'host/confirmwindow_timeout_reverted',
        'host/healthy_soak_elapsed',
        'host/healthy_soak_not_elapsed',
        'host/healthy_to_soaked',
        'host/host_failed_triggers_halt',
        'host/offline_host_skipped',
        'host/quarantined_closure_skips_dispatch',
        'host/queued_to_dispatched',
        'rollout/all_waves_converged',
        'rollout/channel_unknown',
        'rollout/onfailure_halt',
        'rollout/onfailure_rollback_and_halt',
        'rollout/pending_to_planning',
        'rollout/planning_to_executing',
        'rollout/wave_active_to_soaking',
        'rollout/wave_soaking_to_promoted',
      ].sort(),
    );
  });

  for (const fixture of LEGACY_FIXTURES) {
    describe(fixture.name, () => {
      const input = translateLegacy(fixture);
      const plan = planNext(input);

      it('produces the v0.2 plan', () => {
        expect(plan).toEqual(fixture.v02.plan);
      });

      it('maps every v0.1 action onto the plan the spec says it becomes', () => {
        const kinds = new Set<string>(plan.map((a) => a.type));
        for (const action of fixture.expected) {
          const allowed = PLAN_KINDS[action.action];
          if (allowed.length > 0) expect(allowed.some((k) => kinds.has(k))).toBe(true);
        }
        // Anything the planner does beyond the v0.1 expectation is explained by the fixture's note.
        if (fixture.expected.length === 0 && fixture.v02.note === undefined) expect(plan).toEqual([]);
      });

      for (const consequence of fixture.v02.consequences ?? []) {
        it(`v0.2 consequence: ${consequence.kind}`, () => {
          const records = input.hostRecords.filter((r) => r.rolloutId === consequence.rolloutId);
          if (consequence.kind === 'soak-due') {
            const record = records.find((r) => r.hostname === consequence.host);
            expect(record?.state).toBe('Soaking');
            const due = Date.parse(record?.soakDueAt ?? '') <= Date.parse(LEGACY_NOW);
            expect(due).toBe(consequence.due);
          } else if (consequence.kind === 'rollout-terminal') {
            expect(allHostsConverged(records.map((r) => r.state))).toBe(true);
          } else {
            const rollout = buildPlanView(input).planned.get(consequence.rolloutId);
            expect(rollout?.halt?.hostState).toBe('Failed');
            expect(rollout?.policy?.onHealthFailure).toBe(consequence.policy);
          }
        });
      }
    });
  }
});
