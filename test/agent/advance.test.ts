// The advance ticker's pure decision (agent/advance/decide.ts): spec §2.8 gates, G9 and G10, and
// properties — never converges before soakDueAt, never with a failing enforce probe, and every
// event it proposes is one the chart accepts.
import { fc, test as fcTest } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import { decideAdvance } from '../../agent/advance/index.ts';
import {
  type HostRolloutContext,
  type HostRolloutSnapshot,
  hostRolloutMachine,
  hostStateOf,
  newPendingRecord,
  type ProbeRecord,
  stepHostRollout,
  toMillis,
  withNextSeq,
} from '../../machines/index.ts';
import type { HostState, ProbeMode } from '../../proto/index.ts';
import { T0 } from './support.ts';

const TARGET = 'bbbb-nixos-system-new';
const base = Date.parse(T0);
const at = (s: number) => new Date(base + s * 1000).toISOString();
const now = (s: number) => new Date(base + s * 1000);

function soaking(
  overrides: Partial<HostRolloutContext> = {},
  state: HostState = 'Soaking',
): HostRolloutSnapshot {
  const context: HostRolloutContext = {
    ...newPendingRecord({
      rolloutId: 'stable@c0ffee',
      hostname: 'web-01',
      channel: 'stable',
      targetClosure: TARGET,
      dispatchedAt: T0,
      soakDueAt: at(600),
      onHealthFailure: 'rollback-and-halt',
    }),
    currentClosureAtDispatch: 'aaaa-old',
    currentClosure: TARGET,
    activationCompletedAt: T0,
    lastEventSeq: 3,
    ...overrides,
  };
  return hostRolloutMachine.resolveState({ value: state, context });
}

const probeRec = (
  status: 'pass' | 'fail',
  mode: ProbeMode = 'enforce',
  failingSince: string | null = null,
): ProbeRecord => ({
  status,
  mode,
  lastObservedAt: at(0),
  lastPassAt: status === 'pass' ? at(0) : null,
  failureReason: status === 'fail' ? 'down' : null,
  failingSince: status === 'fail' ? (failingSince ?? at(0)) : null,
});

const halt = { onHealthFailure: 'halt' as const };

describe('pass gate', () => {
  it('converges exactly at soakDueAt, not 1 ms before', () => {
    const s = soaking({ probes: { http: probeRec('pass') } });
    expect(decideAdvance(s, { now: new Date(base + 600_000 - 1), ...halt })).toEqual({
      event: null,
      waiting: 'soak-not-due',
    });
    expect(decideAdvance(s, { now: now(600), ...halt })).toEqual({
      event: { type: 'LocalConvergedReached', convergedAt: at(600), currentClosure: TARGET, seq: 0 },
    });
  });

  it('ignores failing observe and disabled probes', () => {
    const s = soaking({
      probes: { a: probeRec('fail', 'observe', at(-900)), b: probeRec('fail', 'disabled', at(-900)) },
    });
    expect(decideAdvance(s, { now: now(600), ...halt }).event?.type).toBe('LocalConvergedReached');
  });

  it('waits while a declared enforce probe has not reported since activation (G9)', () => {
    const s = soaking({
      declaredProbes: [
        { probeName: 'http', kind: 'exec', mode: 'enforce' },
        { probeName: 'extra', kind: 'exec', mode: 'observe' },
      ],
      probes: {},
    });
    expect(decideAdvance(s, { now: now(900), ...halt })).toEqual({
      event: null,
      waiting: 'enforce-probe-unobserved',
    });
  });

  it('waits when the running closure is not the target, or no soak deadline is known', () => {
    expect(decideAdvance(soaking({ currentClosure: 'other' }), { now: now(900), ...halt })).toEqual({
      event: null,
      waiting: 'closure-mismatch',
    });
    expect(decideAdvance(soaking({ soakDueAt: null }), { now: now(900), ...halt })).toEqual({
      event: null,
      waiting: 'no-soak-deadline',
    });
  });

  it('decides nothing outside Soaking', () => {
    for (const state of ['Pending', 'Activating', 'Deferred', 'Failed', 'Converged', 'Reverted'] as const) {
      expect(decideAdvance(soaking({}, state), { now: now(900), ...halt })).toEqual({
        event: null,
        waiting: 'not-soaking',
      });
    }
  });
});

describe('fail gate', () => {
  it('crosses once an enforce probe has failed for the threshold (default 120 s), with the policy', () => {
    const s = soaking({ probes: { http: probeRec('fail', 'enforce', at(10)), disk: probeRec('pass') } });
    expect(
      decideAdvance(s, { now: new Date(base + 130_000 - 1), onHealthFailure: 'rollback-and-halt' }),
    ).toEqual({
      event: null,
      waiting: 'failure-not-sustained',
    });
    expect(decideAdvance(s, { now: now(130), onHealthFailure: 'rollback-and-halt' })).toEqual({
      event: {
        type: 'LocalSustainedFailureCrossed',
        failedAt: at(130),
        sustainedDurationSecs: 120,
        failingProbes: ['http'],
        policyApplied: 'rollback-and-halt',
        seq: 0,
      },
    });
  });

  it('takes the threshold from the policy', () => {
    const s = soaking({ probes: { http: probeRec('fail', 'enforce', at(0)) } });
    expect(decideAdvance(s, { now: now(60), sustainedFailureMs: 60_000, ...halt }).event?.type).toBe(
      'LocalSustainedFailureCrossed',
    );
  });

  it('fails even after soakDueAt: a failing enforce probe never lets the host converge', () => {
    const s = soaking({ probes: { http: probeRec('fail', 'enforce', at(590)) } });
    expect(decideAdvance(s, { now: now(700), ...halt })).toEqual({
      event: null,
      waiting: 'failure-not-sustained',
    });
    expect(decideAdvance(s, { now: now(710), ...halt }).event?.type).toBe('LocalSustainedFailureCrossed');
  });

  it('G10: a probe that failed long ago, recovered and fails again is measured from its new streak', () => {
    // Through the chart: fail at 0 s, pass at 30 s, fail again at 200 s.
    let s = soaking({ lastEventSeq: 3 });
    const result = (t: number, status: 'pass' | 'fail') =>
      ({
        type: 'LocalProbeResult',
        probeName: 'http',
        mode: 'enforce',
        status,
        observedAt: at(t),
        failureReason: status === 'fail' ? 'down' : null,
        subResults: null,
        seq: 0,
      }) as const;
    const first = {
      type: 'LocalProbeFailureFirst',
      probeName: 'http',
      mode: 'enforce',
      firstFailedAt: at(0),
      seq: 0,
    } as const;
    for (const event of [result(0, 'fail'), first, result(30, 'pass'), result(200, 'fail')]) {
      const r = stepHostRollout(s, withNextSeq(s.context, event));
      if (!r.ok) throw new Error(JSON.stringify(r.error));
      s = r.snapshot;
    }
    // The record-wide first failure is 210 s old; the original would have failed the host here.
    expect(s.context.probeFailureFirstAt).toBe(at(0));
    expect(decideAdvance(s, { now: now(210), ...halt })).toEqual({
      event: null,
      waiting: 'failure-not-sustained',
    });
    expect(decideAdvance(s, { now: now(320), ...halt })).toMatchObject({
      event: { type: 'LocalSustainedFailureCrossed', sustainedDurationSecs: 120 },
    });
  });

  it('reports every failing enforce probe and the longest streak', () => {
    const s = soaking({
      probes: {
        b: probeRec('fail', 'enforce', at(100)),
        a: probeRec('fail', 'enforce', at(0)),
        o: probeRec('fail', 'observe', at(0)),
      },
    });
    expect(decideAdvance(s, { now: now(125), ...halt })).toMatchObject({
      event: { failingProbes: ['a', 'b'], sustainedDurationSecs: 125 },
    });
  });
});

describe('properties', () => {
  const probeArb = fc.record({
    mode: fc.constantFrom<ProbeMode>('enforce', 'observe', 'disabled'),
    status: fc.constantFrom<'pass' | 'fail'>('pass', 'fail'),
    failingFor: fc.integer({ min: 0, max: 400 }),
  });
  const scenarioArb = fc.record({
    probes: fc.dictionary(fc.constantFrom('http', 'disk', 'dns', 'db'), probeArb, { maxKeys: 4 }),
    declared: fc.subarray(['http', 'disk', 'dns', 'db']),
    soakDue: fc.option(fc.integer({ min: -300, max: 900 }), { nil: null }),
    closure: fc.constantFrom(TARGET, 'other'),
    nowS: fc.integer({ min: 0, max: 1_200 }),
    thresholdS: fc.integer({ min: 1, max: 300 }),
    policy: fc.constantFrom('halt' as const, 'rollback-and-halt' as const),
  });

  fcTest.prop([scenarioArb], { numRuns: 500 })(
    'never converges before soakDueAt or with a failing enforce probe; every proposal is accepted by the chart',
    (sc) => {
      const probes: Record<string, ProbeRecord> = {};
      for (const [name, p] of Object.entries(sc.probes))
        probes[name] = probeRec(p.status, p.mode, at(sc.nowS - p.failingFor));
      const s = soaking({
        probes,
        declaredProbes: sc.declared.map((n) => ({ probeName: n, kind: 'exec', mode: 'enforce' as const })),
        soakDueAt: sc.soakDue === null ? null : at(sc.soakDue),
        currentClosure: sc.closure,
      });
      const d = decideAdvance(s, {
        now: now(sc.nowS),
        sustainedFailureMs: sc.thresholdS * 1000,
        onHealthFailure: sc.policy,
      });
      const failingEnforce = Object.values(probes).filter((p) => p.mode === 'enforce' && p.status === 'fail');

      if (d.event?.type === 'LocalConvergedReached') {
        expect(sc.soakDue).not.toBeNull();
        expect(sc.nowS).toBeGreaterThanOrEqual(sc.soakDue as number);
        expect(failingEnforce).toEqual([]);
        expect(d.event.currentClosure).toBe(TARGET);
      }
      if (d.event?.type === 'LocalSustainedFailureCrossed') {
        expect(
          failingEnforce.some(
            (p) => now(sc.nowS).getTime() - toMillis(p.failingSince as string) >= sc.thresholdS * 1000,
          ),
        ).toBe(true);
        expect(d.event.policyApplied).toBe(sc.policy);
        expect(d.event.failingProbes.length).toBeGreaterThan(0);
      }
      if (d.event !== null) {
        const r = stepHostRollout(s, withNextSeq(s.context, d.event));
        expect(r.ok).toBe(true);
        if (r.ok)
          expect(hostStateOf(r.snapshot)).toBe(
            d.event.type === 'LocalConvergedReached' ? 'Converged' : 'Failed',
          );
      }
    },
  );

  fcTest.prop([scenarioArb.map((sc) => ({ ...sc, probes: {}, declared: [] }))])(
    'with no probes it converges exactly when the soak is due and the closure is the target',
    (sc) => {
      const s = soaking({
        probes: {},
        soakDueAt: sc.soakDue === null ? null : at(sc.soakDue),
        currentClosure: sc.closure,
      });
      const d = decideAdvance(s, { now: now(sc.nowS), onHealthFailure: sc.policy });
      const expected = sc.soakDue !== null && sc.nowS >= sc.soakDue && sc.closure === TARGET;
      expect(d.event?.type === 'LocalConvergedReached').toBe(expected);
    },
  );
});
