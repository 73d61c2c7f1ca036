// Rollout lifecycle vectors: the §9.3 inline unit tests by name, the whole §3.5 matrix as a table,
// the pinned currentWave regression, and the §3.7 wave-promotion and §3.8 terminal rules.
import { describe, expect, it } from 'vitest';
import { persistRollout } from '../../machines/rollout/persisted.ts';
import { type RolloutSnapshot, rolloutStateOf, stepRollout } from '../../machines/rollout/step.ts';
import { allHostsConverged } from '../../machines/rollout/terminalRule.ts';
import { proposeWaveAdvance } from '../../machines/rollout/wavePromotion.ts';
import { HOST_STATES, type HostState } from '../../proto/common.ts';
import {
  ROLLOUT_EVENT_TYPES,
  ROLLOUT_STATES,
  type RolloutEvent,
  type RolloutEventType,
  type RolloutState,
  rolloutEffectSchema,
} from '../../proto/rolloutEvent.ts';
import {
  at,
  drive,
  EXAMPLE_EVENTS,
  ev,
  expectedAfter,
  MATRIX,
  type Outcome,
  RID,
  reach,
  SUCCESSOR,
  specOutcome,
} from './rollout.fixtures.ts';

function ok(snapshot: RolloutSnapshot, event: RolloutEvent) {
  const r = stepRollout(snapshot, event);
  if (!r.ok) throw new Error(`expected ${event.type} to be accepted, got ${r.error.code}`);
  return r;
}

describe('§9.3 inline unit tests', () => {
  it('Opening: HostJoined → Active without applying the joiner wave', () => {
    const r = ok(reach('Opening'), ev.joined('h2', 2, 1));
    expect(rolloutStateOf(r.snapshot)).toBe('Active');
    expect(r.snapshot.context.currentWave).toBe(0);
    expect(r.effects).toEqual([
      { type: 'RecordRolloutTransition', rolloutId: RID, from: 'Opening', to: 'Active', at: at(1) },
    ]);
  });

  it('Opening: SuccessorOpened → Superseded and sets supersededAt', () => {
    const r = ok(reach('Opening'), ev.successor(9));
    expect(rolloutStateOf(r.snapshot)).toBe('Superseded');
    expect(r.snapshot.context.supersededAt).toBe(at(9));
    expect(r.snapshot.context.supersededBy).toBe(SUCCESSOR);
    expect(r.effects).toEqual([
      { type: 'RecordRolloutTransition', rolloutId: RID, from: 'Opening', to: 'Superseded', at: at(9) },
    ]);
  });

  it('Opening: RolloutOpened is illegal', () => {
    expect(stepRollout(reach('Opening'), ev.opened())).toEqual({
      ok: false,
      error: { code: 'IllegalForState', from: 'Opening', event: 'RolloutOpened', rolloutId: RID },
    });
  });

  it('Active: a host → Reverted flips the rollout to Reverted', () => {
    const r = ok(reach('Active'), ev.host('Failed', 'Reverted', 30));
    expect(rolloutStateOf(r.snapshot)).toBe('Reverted');
    expect(r.effects).toEqual([
      { type: 'RecordRolloutTransition', rolloutId: RID, from: 'Active', to: 'Reverted', at: at(30) },
    ]);
  });

  it('Active: a host → Failed flips the rollout to Failed', () => {
    const r = ok(reach('Active'), ev.host('Soaking', 'Failed', 31));
    expect(rolloutStateOf(r.snapshot)).toBe('Failed');
    expect(r.effects).toEqual([
      { type: 'RecordRolloutTransition', rolloutId: RID, from: 'Active', to: 'Failed', at: at(31) },
    ]);
  });

  it('Active: a host → Soaking is observed with no effects', () => {
    const before = reach('Active');
    const r = ok(before, ev.host('Activating', 'Soaking'));
    expect(rolloutStateOf(r.snapshot)).toBe('Active');
    expect(r.effects).toEqual([]);
    expect(persistRollout(r.snapshot)).toEqual(persistRollout(before));
  });

  it('Active: WaveAdvanced 0→1 stays Active, sets currentWave 1 and emits UpdateCurrentWave', () => {
    const r = ok(reach('Active'), ev.wave(0, 1));
    expect(rolloutStateOf(r.snapshot)).toBe('Active');
    expect(r.snapshot.context.currentWave).toBe(1);
    expect(r.effects).toEqual([{ type: 'UpdateCurrentWave', rolloutId: RID, wave: 1 }]);
  });

  it('Active: WaveAdvanced 0→0 → Converging', () => {
    const r = ok(reach('Active'), ev.wave(0, 0, 40));
    expect(rolloutStateOf(r.snapshot)).toBe('Converging');
    expect(r.snapshot.context.currentWave).toBe(0);
    expect(r.effects).toEqual([
      { type: 'RecordRolloutTransition', rolloutId: RID, from: 'Active', to: 'Converging', at: at(40) },
    ]);
  });

  it('Active: RolloutTerminal → Terminal and sets terminalAt', () => {
    const r = ok(reach('Active'), ev.terminal(41));
    expect(rolloutStateOf(r.snapshot)).toBe('Terminal');
    expect(r.snapshot.context.terminalAt).toBe(at(41));
    expect(r.effects).toEqual([
      { type: 'RecordRolloutTransition', rolloutId: RID, from: 'Active', to: 'Terminal', at: at(41) },
    ]);
  });

  it('Active: SuccessorOpened → Superseded and sets supersededAt', () => {
    const r = ok(reach('Active'), ev.successor(42));
    expect(rolloutStateOf(r.snapshot)).toBe('Superseded');
    expect(r.snapshot.context.supersededAt).toBe(at(42));
    expect(r.snapshot.context.terminalAt).toBeNull();
  });

  it('Active: RolloutOpened is illegal', () => {
    const r = stepRollout(reach('Active'), ev.opened());
    expect(r).toEqual({
      ok: false,
      error: { code: 'IllegalForState', from: 'Active', event: 'RolloutOpened', rolloutId: RID },
    });
  });

  it('Converging: WaveAdvanced 0→1 → Active, RecordRolloutTransition then UpdateCurrentWave', () => {
    const r = ok(reach('Converging'), ev.wave(0, 1, 43));
    expect(rolloutStateOf(r.snapshot)).toBe('Active');
    expect(r.snapshot.context.currentWave).toBe(1);
    expect(r.effects).toEqual([
      { type: 'RecordRolloutTransition', rolloutId: RID, from: 'Converging', to: 'Active', at: at(43) },
      { type: 'UpdateCurrentWave', rolloutId: RID, wave: 1 },
    ]);
  });

  it('Terminal: RetentionExpired → Pruned; WaveAdvanced is illegal', () => {
    const terminal = reach('Terminal');
    const r = ok(terminal, ev.retention(44));
    expect(rolloutStateOf(r.snapshot)).toBe('Pruned');
    expect(r.snapshot.status).toBe('done');
    expect(r.effects).toEqual([
      { type: 'RecordRolloutTransition', rolloutId: RID, from: 'Terminal', to: 'Pruned', at: at(44) },
    ]);
    expect(stepRollout(terminal, ev.wave(0, 1))).toMatchObject({
      ok: false,
      error: { code: 'IllegalForState', from: 'Terminal', event: 'WaveAdvanced' },
    });
  });

  it('Failed and Reverted: OperatorClearance is Unimplemented, not illegal', () => {
    for (const state of ['Failed', 'Reverted'] as const) {
      expect(stepRollout(reach(state), ev.clearance())).toEqual({
        ok: false,
        error: { code: 'Unimplemented', from: state, event: 'OperatorClearance', rolloutId: RID },
      });
    }
  });

  it('Failed ignores a later host → Converged and RolloutTerminal (it never becomes Terminal)', () => {
    const failed = reach('Failed');
    const r1 = ok(failed, ev.host('Soaking', 'Converged', 50, 'h2'));
    const r2 = ok(r1.snapshot, ev.terminal(51));
    expect(rolloutStateOf(r2.snapshot)).toBe('Failed');
    expect(r2.snapshot.context.terminalAt).toBeNull();
    expect([...r1.effects, ...r2.effects]).toEqual([]);
  });

  it('Pruned rejects every event type with IllegalForState', () => {
    const pruned = reach('Pruned');
    for (const type of ROLLOUT_EVENT_TYPES) {
      expect(stepRollout(pruned, EXAMPLE_EVENTS[type])).toEqual({
        ok: false,
        error: { code: 'IllegalForState', from: 'Pruned', event: type, rolloutId: RID },
      });
    }
  });

  it('regression (proptest-regressions/rollout/tests.txt): HostJoined h3 wave 3, then WaveAdvanced 0→1 ⇒ currentWave 1', () => {
    const joined = ok(reach('Opening'), ev.joined('h3', 3, 1));
    expect(joined.snapshot.context.currentWave).toBe(0);
    const advanced = ok(joined.snapshot, ev.wave(0, 1, 2));
    expect(rolloutStateOf(advanced.snapshot)).toBe('Active');
    expect(advanced.snapshot.context.currentWave).toBe(1);
    expect(advanced.effects).toEqual([{ type: 'UpdateCurrentWave', rolloutId: RID, wave: 1 }]);
  });

  it('HostJoined never moves currentWave, in any state that accepts it', () => {
    for (const state of ROLLOUT_STATES) {
      if (state === 'Pruned') continue;
      const wave = state === 'Opening' ? 0 : 1;
      const before = reach(state, wave);
      const r = ok(before, ev.joined('h9', 3, 60));
      expect(r.snapshot.context.currentWave, state).toBe(wave);
    }
  });

  it('finishedAt (spec §10 G15) is stamped on Terminal, Failed and Reverted, not on Superseded', () => {
    expect(reach('Terminal').context.finishedAt).toBe(at(13));
    expect(reach('Failed').context.finishedAt).toBe(at(14));
    expect(reach('Reverted').context.finishedAt).toBe(at(15));
    expect(reach('Superseded', 1).context.finishedAt).toBeNull();
    // Superseding a finished rollout keeps its finishedAt and terminalAt.
    const superseded = ok(reach('Terminal'), ev.successor(70)).snapshot;
    expect(superseded.context).toMatchObject({
      finishedAt: at(13),
      terminalAt: at(13),
      supersededAt: at(70),
    });
  });
});

// ---------------------------------------------------------------------------------------------
// §3.5 matrix: every (state, event type) pair, with every payload branch of the two dependent
// cells. Expected results come from the spec transcription in rollout.fixtures.ts.

interface Variant {
  label: string;
  /** currentWave of the record the event is applied to. */
  wave: number;
  event: RolloutEvent;
}

function variantsOf(type: RolloutEventType): Variant[] {
  switch (type) {
    case 'HostJoined':
      return [
        { label: 'wave 0', wave: 0, event: ev.joined('h1', 0, 80) },
        { label: 'wave 3', wave: 0, event: ev.joined('h3', 3, 80) },
      ];
    case 'HostStateChanged':
      return HOST_STATES.map((to: HostState) => ({
        label: `to=${to}`,
        wave: 0,
        event: ev.host(to === 'Reverted' ? 'Failed' : 'Soaking', to, 81),
      }));
    case 'WaveAdvanced':
      return [
        {
          label: '0→1, currentWave 0 (toWave>fromWave, toWave>currentWave)',
          wave: 0,
          event: ev.wave(0, 1, 82),
        },
        {
          label: '1→3, currentWave 2 (toWave>fromWave, toWave>currentWave)',
          wave: 2,
          event: ev.wave(1, 3, 82),
        },
        {
          label: '0→1, currentWave 2 (toWave>fromWave, toWave≤currentWave)',
          wave: 2,
          event: ev.wave(0, 1, 82),
        },
        {
          label: '1→2, currentWave 2 (toWave>fromWave, toWave=currentWave)',
          wave: 2,
          event: ev.wave(1, 2, 82),
        },
        { label: '0→0, currentWave 0 (toWave=fromWave)', wave: 0, event: ev.wave(0, 0, 82) },
        { label: '3→1, currentWave 2 (toWave<fromWave)', wave: 2, event: ev.wave(3, 1, 82) },
        { label: '2→3, currentWave 0 (toWave>fromWave>currentWave)', wave: 0, event: ev.wave(2, 3, 82) },
      ];
    default:
      return [{ label: '', wave: 0, event: { ...EXAMPLE_EVENTS[type], at: at(83) } as RolloutEvent }];
  }
}

const describeOutcome = (o: Outcome): string =>
  o.kind === 'transition'
    ? `→${o.to}${o.wave === undefined ? '' : ` + UpdateCurrentWave(${o.wave})`}`
    : o.kind === 'wave'
      ? `stay + UpdateCurrentWave(${o.wave})`
      : o.kind;

const MATRIX_CASES = ROLLOUT_STATES.flatMap((state) =>
  ROLLOUT_EVENT_TYPES.flatMap((type) =>
    variantsOf(type)
      // Opening never holds a wave other than 0.
      .filter((v) => state !== 'Opening' || v.wave === 0)
      .map((v) => {
        const outcome = specOutcome(state, v.wave, v.event);
        const name = `${state} × ${type}${v.label === '' ? '' : ` [${v.label}]`} ⇒ ${describeOutcome(outcome)}`;
        return { name, state, type, variant: v, outcome };
      }),
  ),
);

describe('§3.5 transition matrix', () => {
  it('the table covers all 64 (state, event type) pairs and the spec cells named in §3.5', () => {
    const pairs = new Set(MATRIX_CASES.map((c) => `${c.state}|${c.type}`));
    expect(pairs.size).toBe(64);
    expect(ROLLOUT_STATES).toHaveLength(8);
    expect(ROLLOUT_EVENT_TYPES).toHaveLength(8);
    // Each payload branch of the dependent cells is exercised.
    const kinds = (state: RolloutState, type: RolloutEventType) =>
      new Set(
        MATRIX_CASES.filter((c) => c.state === state && c.type === type).map((c) =>
          describeOutcome(c.outcome),
        ),
      );
    expect(kinds('Active', 'HostStateChanged')).toEqual(new Set(['→Reverted', '→Failed', 'no-op']));
    expect(kinds('Converging', 'HostStateChanged')).toEqual(new Set(['→Reverted', '→Failed', 'no-op']));
    expect(kinds('Active', 'WaveAdvanced')).toEqual(
      new Set(['stay + UpdateCurrentWave(1)', 'stay + UpdateCurrentWave(3)', 'no-op', '→Converging']),
    );
    expect(kinds('Converging', 'WaveAdvanced')).toEqual(
      new Set(['→Active + UpdateCurrentWave(1)', '→Active + UpdateCurrentWave(3)', '→Active', 'no-op']),
    );
  });

  it.each(MATRIX_CASES)('$name', ({ state, type, variant, outcome }) => {
    const before = reach(state, variant.wave);
    const persistedBefore = persistRollout(before);
    const result = stepRollout(before, variant.event);

    // The input snapshot is never mutated, whatever the outcome.
    expect(persistRollout(before)).toEqual(persistedBefore);

    if (outcome.kind === 'illegal' || outcome.kind === 'unimplemented') {
      expect(result).toEqual({
        ok: false,
        error: {
          code: outcome.kind === 'illegal' ? 'IllegalForState' : 'Unimplemented',
          from: state,
          event: type,
          rolloutId: RID,
        },
      });
      return;
    }

    if (!result.ok) throw new Error(`spec says ${describeOutcome(outcome)}, chart said ${result.error.code}`);
    const expected = expectedAfter(before, variant.event, outcome);
    expect(rolloutStateOf(result.snapshot)).toBe(expected?.value);
    expect(result.snapshot.context).toEqual(expected?.context);
    expect(result.effects).toEqual(expected?.effects);
    for (const effect of result.effects) expect(rolloutEffectSchema.parse(effect)).toEqual(effect);

    const transitions = result.effects.filter((e) => e.type === 'RecordRolloutTransition');
    if (outcome.kind === 'transition') {
      expect(transitions).toEqual([expect.objectContaining({ from: state, to: outcome.to })]);
      expect(result.snapshot.status).toBe(outcome.to === 'Pruned' ? 'done' : 'active');
    } else {
      expect(transitions).toEqual([]);
    }
    if (outcome.kind === 'no-op') {
      expect(persistRollout(result.snapshot)).toEqual(persistedBefore);
    }
  });

  it('the MATRIX transcription has exactly the spec’s count of each kind of cell', () => {
    const cells = ROLLOUT_STATES.flatMap((s) => ROLLOUT_EVENT_TYPES.map((e) => MATRIX[s][e]));
    const count = (pred: (c: string) => boolean) => cells.filter(pred).length;
    expect(count((c) => c === 'illegal')).toBe(6 + 3 + 3 + 3 + 1 + 1 + 2 + 8);
    expect(count((c) => c === 'unimplemented')).toBe(2);
    expect(count((c) => c === 'no-op')).toBe(1 + 1 + 3 + 4 + 4 + 5);
    expect(count((c) => c.startsWith('→'))).toBe(2 + 2 + 2 + 2 + 2 + 2 + 1);
    expect(count((c) => c === 'hostState' || c === 'wave')).toBe(4);
  });
});

// ---------------------------------------------------------------------------------------------
// §3.7 current_wave promotion and §3.8 terminal rule.

describe('proposeWaveAdvance (§3.7)', () => {
  const rollout = (currentWave: number, terminalAt: string | null = null) => ({
    rolloutId: RID,
    currentWave,
    terminalAt,
  });
  const states = (entries: Record<string, HostState>) => new Map(Object.entries(entries));
  const NOW = at(100);

  it('promotes by exactly one wave when every host of the current wave is Converged', () => {
    expect(
      proposeWaveAdvance(
        rollout(0),
        [['h1', 'h2'], ['h3']],
        states({ h1: 'Converged', h2: 'Converged' }),
        NOW,
      ),
    ).toEqual({ type: 'WaveAdvanced', rolloutId: RID, fromWave: 0, toWave: 1, at: NOW });
  });

  it('Deferred counts as done (alone or mixed with Converged)', () => {
    const waves = [['h1', 'h2'], ['h3'], ['h4']];
    expect(
      proposeWaveAdvance(rollout(0), waves, states({ h1: 'Deferred', h2: 'Deferred' }), NOW),
    ).toMatchObject({ fromWave: 0, toWave: 1 });
    expect(proposeWaveAdvance(rollout(1), waves, states({ h3: 'Deferred' }), NOW)).toMatchObject({
      fromWave: 1,
      toWave: 2,
    });
    expect(
      proposeWaveAdvance(rollout(0), waves, states({ h1: 'Converged', h2: 'Deferred' }), NOW),
    ).not.toBeNull();
  });

  it('only one step per tick, even when later waves are already done', () => {
    const all = states({ h1: 'Converged', h2: 'Converged', h3: 'Converged' });
    expect(proposeWaveAdvance(rollout(0), [['h1'], ['h2'], ['h3']], all, NOW)).toMatchObject({
      fromWave: 0,
      toWave: 1,
    });
  });

  it('the proposal is accepted by the chart and moves currentWave by one', () => {
    const active = reach('Active');
    const proposal = proposeWaveAdvance(active.context, [['h1'], ['h2']], states({ h1: 'Converged' }), NOW);
    if (proposal === null) throw new Error('expected a proposal');
    const r = ok(active, proposal);
    expect(r.snapshot.context.currentWave).toBe(1);
    expect(r.effects).toEqual([{ type: 'UpdateCurrentWave', rolloutId: RID, wave: 1 }]);
  });

  it('skip: the rollout already has terminalAt', () => {
    expect(
      proposeWaveAdvance(rollout(0, at(1)), [['h1'], ['h2']], states({ h1: 'Converged' }), NOW),
    ).toBeNull();
  });

  it('skip rule 1: the channel has no waves', () => {
    expect(proposeWaveAdvance(rollout(0), [], states({ h1: 'Converged' }), NOW)).toBeNull();
  });

  it('skip rule 2: currentWave + 1 ≥ waves.length (no next wave)', () => {
    expect(proposeWaveAdvance(rollout(0), [['h1']], states({ h1: 'Converged' }), NOW)).toBeNull();
    expect(
      proposeWaveAdvance(rollout(1), [['h1'], ['h2']], states({ h1: 'Converged', h2: 'Converged' }), NOW),
    ).toBeNull();
    expect(proposeWaveAdvance(rollout(5), [['h1'], ['h2']], states({ h1: 'Converged' }), NOW)).toBeNull();
  });

  it('skip rule 3: the current wave is empty (never auto-promoted)', () => {
    expect(proposeWaveAdvance(rollout(0), [[], ['h2']], states({ h2: 'Converged' }), NOW)).toBeNull();
    expect(proposeWaveAdvance(rollout(1), [['h1'], [], ['h3']], states({ h1: 'Converged' }), NOW)).toBeNull();
  });

  it('rule 4: not every host of the current wave is Converged/Deferred', () => {
    const waves = [['h1', 'h2'], ['h3']];
    for (const s of HOST_STATES.filter((x) => x !== 'Converged' && x !== 'Deferred')) {
      expect(proposeWaveAdvance(rollout(0), waves, states({ h1: 'Converged', h2: s }), NOW), s).toBeNull();
    }
    // A wave host with no record in this rollout blocks promotion too.
    expect(proposeWaveAdvance(rollout(0), waves, states({ h1: 'Converged' }), NOW)).toBeNull();
    // Hosts of other waves do not matter.
    expect(
      proposeWaveAdvance(rollout(0), waves, states({ h1: 'Converged', h2: 'Converged', h3: 'Failed' }), NOW),
    ).not.toBeNull();
  });
});

describe('allHostsConverged (§3.6, §3.8)', () => {
  it('empty → false (an empty rollout never ends)', () => {
    expect(allHostsConverged([])).toBe(false);
    expect(allHostsConverged(new Set<HostState>())).toBe(false);
  });

  it('every host Converged → true', () => {
    expect(allHostsConverged(['Converged'])).toBe(true);
    expect(allHostsConverged(new Map([['h1', 'Converged' as HostState]]).values())).toBe(true);
    expect(allHostsConverged(['Converged', 'Converged', 'Converged'])).toBe(true);
  });

  it('any other host state (Deferred included) → false', () => {
    for (const s of HOST_STATES.filter((x) => x !== 'Converged')) {
      expect(allHostsConverged(['Converged', s, 'Converged']), s).toBe(false);
    }
  });
});

describe('driver sanity', () => {
  it('reaches every state with real events, at waves 0 and 2 where the state can hold them', () => {
    for (const state of ROLLOUT_STATES) {
      expect(rolloutStateOf(reach(state))).toBe(state);
      if (state !== 'Opening') expect(reach(state, 2).context.currentWave).toBe(2);
    }
    expect(() => drive([ev.opened()])).toThrow(/refused/);
  });
});

describe('addressing', () => {
  it('refuses an event addressed to another rollout, whatever the state', async () => {
    const { createRollout, stepRollout } = await import('../../machines/index.ts');
    const s = createRollout({
      rolloutId: 'stable@a',
      channel: 'stable',
      targetRef: 'a',
      openedAt: '2026-05-16T01:00:00Z',
    });
    const other = stepRollout(s, {
      type: 'HostJoined',
      rolloutId: 'stable@b',
      hostId: 'h1',
      wave: 0,
      at: '2026-05-16T01:00:00Z',
    });
    expect(other).toEqual({
      ok: false,
      error: { code: 'WrongRollout', event: 'HostJoined', addressedTo: 'stable@b', rolloutId: 'stable@a' },
    });
    const successor = stepRollout(s, {
      type: 'SuccessorOpened',
      supersededRolloutId: 'stable@a',
      successorRolloutId: 'stable@b',
      at: '2026-05-16T02:00:00Z',
    });
    expect(successor.ok).toBe(true);
  });
});
