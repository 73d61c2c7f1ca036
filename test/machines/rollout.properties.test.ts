// Property tests for the rollout chart: the five §9.3 proptests (`rollout/tests.rs`), agreement with
// the §3.5 matrix on random walks, determinism, and the persisted-snapshot codec.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { persistRollout, restoreRollout } from '../../machines/rollout/persisted.ts';
import { ROLLOUT_MACHINE_ID, ROLLOUT_MACHINE_VERSION } from '../../machines/rollout/rollout.machine.ts';
import {
  createRollout,
  type RolloutSnapshot,
  type RolloutStepResult,
  rolloutStateOf,
  stepRollout,
} from '../../machines/rollout/step.ts';
import { HOST_STATES, type HostState } from '../../proto/common.ts';
import {
  ROLLOUT_STATES,
  type RolloutEvent,
  type RolloutState,
  rolloutEffectSchema,
} from '../../proto/rolloutEvent.ts';
import { at, EXAMPLE_EVENTS, ev, expectedAfter, INPUT, RID, reach, specOutcome } from './rollout.fixtures.ts';

const RUNS = { numRuns: 300 };

// -- arbitraries ---------------------------------------------------------------------------------

const atArb = fc.integer({ min: 0, max: 1_000_000 }).map(at);
const waveArb = fc.integer({ min: 0, max: 3 });
const hostArb = fc.constantFrom('h1', 'h2', 'h3');
const NON_DEFERRED = HOST_STATES.filter((s) => s !== 'Deferred');

const waveAdvancedArb: fc.Arbitrary<RolloutEvent> = fc
  .record({ from: waveArb, to: waveArb, a: atArb })
  .map(({ from, to, a }) => ({ ...ev.wave(from, to), at: a }));
const hostJoinedArb: fc.Arbitrary<RolloutEvent> = fc
  .record({ host: hostArb, wave: waveArb, a: atArb })
  .map(({ host, wave, a }) => ({ ...ev.joined(host, wave), at: a }));

/**
 * Every event type of the alphabet can come up. The events that leave Active for good are
 * weighted down so that walks spend long enough in Active/Converging to exercise the wave logic.
 */
function eventArb(hostStates: readonly HostState[], withClearance: boolean): fc.Arbitrary<RolloutEvent> {
  const hostState = fc.constantFrom(...hostStates);
  const arbs: fc.WeightedArbitrary<RolloutEvent>[] = [
    { weight: 1, arbitrary: atArb.map((a) => ({ ...ev.opened(), at: a })) },
    { weight: 3, arbitrary: hostJoinedArb },
    {
      weight: 4,
      arbitrary: fc
        .record({ host: hostArb, from: hostState, to: hostState, a: atArb })
        .map(({ host, from, to, a }) => ({ ...ev.host(from, to, 0, host), at: a })),
    },
    { weight: 8, arbitrary: waveAdvancedArb },
    { weight: 1, arbitrary: atArb.map((a) => ({ ...ev.terminal(), at: a })) },
    { weight: 1, arbitrary: atArb.map((a) => ({ ...ev.successor(), at: a })) },
    { weight: 1, arbitrary: atArb.map((a) => ({ ...ev.retention(), at: a })) },
  ];
  if (withClearance) arbs.push({ weight: 1, arbitrary: atArb.map((a) => ({ ...ev.clearance(), at: a })) });
  return fc.oneof(...arbs);
}

/** The §9.3 proptest alphabet: six non-Deferred host states, no OperatorClearance. */
const specEvent = eventArb(NON_DEFERRED, false);
/** Everything the chart can be sent, Deferred and OperatorClearance included. */
const anyEvent = eventArb(HOST_STATES, true);

const specSequence = fc.array(specEvent, { minLength: 1, maxLength: 31, size: 'max' });
const anySequence = fc.array(anyEvent, { minLength: 1, maxLength: 31, size: 'max' });

interface Step {
  before: RolloutSnapshot;
  event: RolloutEvent;
  result: RolloutStepResult;
}

/** Steps every event from Opening; rejected events are recorded and skipped. */
function walk(events: readonly RolloutEvent[], from: RolloutSnapshot = createRollout(INPUT)) {
  const steps: Step[] = [];
  let snapshot = from;
  for (const event of events) {
    const result = stepRollout(snapshot, event);
    steps.push({ before: snapshot, event, result });
    if (result.ok) snapshot = result.snapshot;
  }
  return { steps, final: snapshot };
}

const JSONround = <T>(x: T): unknown => JSON.parse(JSON.stringify(x));

// -- the five §9.3 proptests ---------------------------------------------------------------------

describe('§9.3 proptests (rollout/tests.rs)', () => {
  it('Terminal ⇒ terminalAt set, after every accepted step', () => {
    fc.assert(
      fc.property(specSequence, (events) => {
        for (const { result } of walk(events).steps) {
          if (result.ok && rolloutStateOf(result.snapshot) === 'Terminal') {
            expect(result.snapshot.context.terminalAt).not.toBeNull();
            expect(result.effects.every((e) => rolloutEffectSchema.safeParse(e).success)).toBe(true);
          }
        }
      }),
      RUNS,
    );
  });

  it('Superseded ⇒ supersededAt set, after every accepted step', () => {
    fc.assert(
      fc.property(specSequence, (events) => {
        for (const { result } of walk(events).steps) {
          if (result.ok && rolloutStateOf(result.snapshot) === 'Superseded') {
            expect(result.snapshot.context.supersededAt).not.toBeNull();
          }
        }
      }),
      RUNS,
    );
  });

  it('currentWave never decreases', () => {
    const monotonic = (events: readonly RolloutEvent[], from?: RolloutSnapshot) => {
      for (const { before, result } of walk(events, from).steps) {
        if (result.ok) {
          expect(result.snapshot.context.currentWave).toBeGreaterThanOrEqual(before.context.currentWave);
        }
      }
    };
    fc.assert(
      fc.property(specSequence, (events) => monotonic(events)),
      RUNS,
    );
    // The same from Active, with only the events that touch waves, so every branch of the wave
    // cells is hit many times per walk (Active ⇄ Converging, forward/backward, above/below current).
    const waveOnly = fc.array(fc.oneof(waveAdvancedArb, hostJoinedArb), {
      minLength: 1,
      maxLength: 31,
      size: 'max',
    });
    fc.assert(
      fc.property(waveOnly, (events) => monotonic(events, reach('Active'))),
      RUNS,
    );
  });

  it('every RecordRolloutTransition has from/to = pre/post state; an unchanged state emits none', () => {
    fc.assert(
      fc.property(specSequence, (events) => {
        for (const { before, result } of walk(events).steps) {
          if (!result.ok) continue;
          const pre = rolloutStateOf(before);
          const post = rolloutStateOf(result.snapshot);
          const records = result.effects.filter((e) => e.type === 'RecordRolloutTransition');
          if (pre === post) {
            expect(records).toEqual([]);
          } else {
            expect(records).toHaveLength(1);
            expect(records[0]).toMatchObject({ rolloutId: RID, from: pre, to: post });
          }
          // UpdateCurrentWave accompanies exactly the wave bumps and names the new wave.
          const waves = result.effects.filter((e) => e.type === 'UpdateCurrentWave');
          const bumped = result.snapshot.context.currentWave !== before.context.currentWave;
          expect(waves).toEqual(
            bumped
              ? [{ type: 'UpdateCurrentWave', rolloutId: RID, wave: result.snapshot.context.currentWave }]
              : [],
          );
        }
      }),
      RUNS,
    );
  });

  it('Pruned rejects any event with IllegalForState{from: Pruned} and leaves the record unchanged', () => {
    const routes: RolloutState[] = ['Terminal', 'Failed', 'Reverted', 'Superseded'];
    const prunedArb = fc.record({ via: fc.constantFrom(...routes), wave: waveArb }).map(({ via, wave }) => {
      const r = stepRollout(reach(via, wave), ev.retention(99));
      if (!r.ok || rolloutStateOf(r.snapshot) !== 'Pruned') throw new Error(`cannot prune from ${via}`);
      return r.snapshot;
    });
    fc.assert(
      fc.property(prunedArb, anyEvent, (pruned, event) => {
        const before = persistRollout(pruned);
        const r = stepRollout(pruned, event);
        expect(r).toEqual({
          ok: false,
          error: { code: 'IllegalForState', from: 'Pruned', event: event.type, rolloutId: RID },
        });
        expect(persistRollout(pruned)).toEqual(before);
        expect(pruned.status).toBe('done');
      }),
      RUNS,
    );
  });
});

// -- beyond §9.3 -----------------------------------------------------------------------------------

describe('chart vs the §3.5 matrix', () => {
  it('every step of a random walk does exactly what the matrix says (record, state and effects)', () => {
    const visited = new Set<string>();
    fc.assert(
      fc.property(anySequence, (events) => {
        for (const { before, event, result } of walk(events).steps) {
          const state = rolloutStateOf(before);
          visited.add(state);
          const outcome = specOutcome(state, before.context.currentWave, event);
          if (outcome.kind === 'illegal' || outcome.kind === 'unimplemented') {
            expect(result).toEqual({
              ok: false,
              error: {
                code: outcome.kind === 'illegal' ? 'IllegalForState' : 'Unimplemented',
                from: state,
                event: event.type,
                rolloutId: RID,
              },
            });
            continue;
          }
          if (!result.ok)
            throw new Error(`${state} × ${event.type}: spec ${outcome.kind}, chart ${result.error.code}`);
          const expected = expectedAfter(before, event, outcome);
          expect({
            value: rolloutStateOf(result.snapshot),
            context: result.snapshot.context,
            effects: result.effects,
          }).toEqual(expected);
        }
      }),
      RUNS,
    );
    // The walks are not vacuous: events were applied in every state of the chart.
    expect([...visited].sort()).toEqual([...ROLLOUT_STATES].sort());
  });
});

describe('determinism', () => {
  it('the same sequence twice gives deep-equal snapshots and effects at every step', () => {
    fc.assert(
      fc.property(anySequence, (events) => {
        const a = walk(events);
        const b = walk(events);
        expect(b.steps.length).toBe(a.steps.length);
        a.steps.forEach((sa, i) => {
          const sb = b.steps[i];
          if (sb === undefined) throw new Error('walks differ in length');
          expect(sb.result.ok).toBe(sa.result.ok);
          if (sa.result.ok && sb.result.ok) {
            expect(sb.result.effects).toEqual(sa.result.effects);
            expect(sb.result.snapshot.value).toEqual(sa.result.snapshot.value);
            expect(sb.result.snapshot.context).toEqual(sa.result.snapshot.context);
            expect(sb.result.snapshot.status).toBe(sa.result.snapshot.status);
          } else {
            expect(sb.result).toEqual(sa.result);
          }
        });
        expect(persistRollout(b.final)).toEqual(persistRollout(a.final));
      }),
      RUNS,
    );
  });
});

describe('persistence (persistRollout / restoreRollout)', () => {
  it('JSON round trip at every step of a random walk: restore then persist again is identical', () => {
    fc.assert(
      fc.property(anySequence, (events) => {
        const snapshots = [
          createRollout(INPUT),
          ...walk(events).steps.flatMap((s) => (s.result.ok ? [s.result.snapshot] : [])),
        ];
        for (const s of snapshots) {
          const persisted = persistRollout(s);
          expect(persisted.machineId).toBe(ROLLOUT_MACHINE_ID);
          expect(persisted.machineVersion).toBe(ROLLOUT_MACHINE_VERSION);
          expect(persisted.status).toBe(rolloutStateOf(s) === 'Pruned' ? 'done' : 'active');
          const restored = restoreRollout(JSONround(persisted));
          if (!restored.ok) throw new Error(`restore failed: ${restored.error.message}`);
          expect(persistRollout(restored.snapshot)).toEqual(persisted);
          expect(restored.snapshot.status).toBe(s.status);
        }
      }),
      RUNS,
    );
  });

  it('a restored snapshot behaves exactly like the original on the rest of the walk', () => {
    fc.assert(
      fc.property(anySequence, anySequence, (prefix, suffix) => {
        const { final } = walk(prefix);
        const restored = restoreRollout(JSONround(persistRollout(final)));
        if (!restored.ok) throw new Error(`restore failed: ${restored.error.message}`);
        const original = walk(suffix, final);
        const replayed = walk(suffix, restored.snapshot);
        expect(replayed.steps.map((s) => (s.result.ok ? s.result.effects : s.result.error))).toEqual(
          original.steps.map((s) => (s.result.ok ? s.result.effects : s.result.error)),
        );
        expect(persistRollout(replayed.final)).toEqual(persistRollout(original.final));
      }),
      RUNS,
    );
  });

  it('a wrong machineVersion → UnknownMachineVersion naming the version', () => {
    const persisted = JSONround(persistRollout(reach('Active', 1))) as Record<string, unknown>;
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 1_000_000 }), (version) => {
        const r = restoreRollout({ ...persisted, machineVersion: version });
        expect(r).toMatchObject({
          ok: false,
          error: { code: 'UnknownMachineVersion', machineId: ROLLOUT_MACHINE_ID, machineVersion: version },
        });
      }),
      RUNS,
    );
  });

  it('garbage → InvalidSnapshot, never a throw', () => {
    fc.assert(
      fc.property(fc.anything(), (raw) => {
        let r: ReturnType<typeof restoreRollout> | undefined;
        expect(() => {
          r = restoreRollout(raw);
        }).not.toThrow();
        expect(r).toMatchObject({ ok: false, error: { code: 'InvalidSnapshot' } });
      }),
      RUNS,
    );
  });

  it('a valid snapshot with one field broken → InvalidSnapshot, never a throw', () => {
    const good = JSONround(persistRollout(reach('Terminal', 2))) as Record<string, unknown> & {
      context: Record<string, unknown>;
    };
    expect(restoreRollout(good).ok).toBe(true);
    const breakages: [string, (g: typeof good) => unknown][] = [
      ['machineId', (g) => ({ ...g, machineId: 'hostRollout' })],
      ['machineVersion 0', (g) => ({ ...g, machineVersion: 0 })],
      ['machineVersion 1.5', (g) => ({ ...g, machineVersion: 1.5 })],
      ['machineVersion "1"', (g) => ({ ...g, machineVersion: '1' })],
      ['status', (g) => ({ ...g, status: 'stopped' })],
      ['value', (g) => ({ ...g, value: 'Finished' })],
      ['value object', (g) => ({ ...g, value: { Active: {} } })],
      ['context missing', ({ context: _c, ...g }) => g],
      ['currentWave negative', (g) => ({ ...g, context: { ...g.context, currentWave: -1 } })],
      ['currentWave fractional', (g) => ({ ...g, context: { ...g.context, currentWave: 0.5 } })],
      ['terminalAt not RFC 3339', (g) => ({ ...g, context: { ...g.context, terminalAt: 'yesterday' } })],
      ['rolloutId with /', (g) => ({ ...g, context: { ...g.context, rolloutId: 'stable@../x/y' } })],
      ['openedAt missing', (g) => ({ ...g, context: { ...g.context, openedAt: undefined } })],
    ];
    for (const [name, breakIt] of breakages) {
      const r = restoreRollout(breakIt(good));
      expect(r, name).toMatchObject({ ok: false, error: { code: 'InvalidSnapshot' } });
    }
  });

  it('restored snapshots still refuse what the spec refuses', () => {
    // Restored Pruned stays absorbing; restored Failed still answers Unimplemented.
    for (const [state, type, code] of [
      ['Pruned', 'HostJoined', 'IllegalForState'],
      ['Failed', 'OperatorClearance', 'Unimplemented'],
      ['Terminal', 'WaveAdvanced', 'IllegalForState'],
    ] as const) {
      const restored = restoreRollout(JSONround(persistRollout(reach(state))));
      if (!restored.ok) throw new Error(restored.error.message);
      expect(stepRollout(restored.snapshot, EXAMPLE_EVENTS[type])).toMatchObject({
        ok: false,
        error: { code, from: state },
      });
    }
  });
});
