// Model-based coverage of the rollout chart with `xstate/graph` (spec/xstate-notes.md §4): paths
// generated from the chart are replayed on the pure `stepRollout`, every transition definition of
// every state must be taken, and every (state, event type) pair must be either taken by a path or
// refused by an explicit step below.
import { describe, expect, it } from 'vitest';
import { getShortestPaths, getSimplePaths } from 'xstate/graph';
import { rolloutMachine } from '../../machines/rollout/rollout.machine.ts';
import {
  createRollout,
  type RolloutSnapshot,
  rolloutStateOf,
  stepRollout,
} from '../../machines/rollout/step.ts';
import {
  ROLLOUT_EVENT_TYPES,
  ROLLOUT_STATES,
  type RolloutEvent,
  type RolloutState,
} from '../../proto/rolloutEvent.ts';
import {
  EXAMPLE_EVENTS,
  eventAlphabet,
  expectedAfter,
  INPUT,
  MATRIX,
  RID,
  reach,
  specOutcome,
} from './rollout.fixtures.ts';

const ALPHABET = eventAlphabet();
const MAX_WAVE = 3;

function stateNode(state: RolloutState) {
  const node = rolloutMachine.states[state];
  if (node === undefined) throw new Error(`chart has no state ${state}`);
  return node;
}

/** Index of the transition definition `event` takes in `snapshot`'s state (its branch). */
function branchOf(snapshot: RolloutSnapshot, event: RolloutEvent): number {
  const taken = rolloutMachine.getTransitionData(snapshot, event);
  const defs = stateNode(rolloutStateOf(snapshot)).transitions.get(event.type) ?? [];
  if (taken.length !== 1) return -1;
  return defs.indexOf(taken[0] as (typeof defs)[number]);
}

const transitionKey = (snapshot: RolloutSnapshot, event: RolloutEvent): string =>
  `${rolloutStateOf(snapshot)}|${event.type}|${branchOf(snapshot, event)}`;

// Only events `stepRollout` accepts are explored; the refused ones are asserted explicitly below.
const accepted = (snapshot: RolloutSnapshot, event: RolloutEvent): boolean => stepRollout(snapshot, event).ok;

// Shortest paths: a vertex is value + currentWave (waves 0..3) plus the transition that led to it,
// so a no-op self-loop (`{}`) is an edge to a distinct vertex and appears on some path. Bounded:
// at most (#transition definitions × 4 waves) vertices.
const shortestPaths = getShortestPaths(rolloutMachine, {
  input: INPUT,
  events: ALPHABET,
  filterEvents: accepted,
  serializeState: (snapshot, event, prev) =>
    `${snapshot.value}|w${snapshot.context.currentWave}|${event !== undefined && prev !== undefined ? transitionKey(prev, event) : 'init'}`,
});

// Simple paths: vertex = value + currentWave. The full alphabet minus WaveAdvanced beyond wave 1
// keeps the path count in the hundreds (with waves 0..3 it is in the millions).
const simplePaths = getSimplePaths(rolloutMachine, {
  input: INPUT,
  events: () => ALPHABET.filter((e) => e.type !== 'WaveAdvanced' || (e.fromWave <= 1 && e.toWave <= 1)),
  filterEvents: accepted,
  serializeState: (snapshot) => `${snapshot.value}|w${snapshot.context.currentWave}`,
});

interface Replay {
  taken: Set<string>;
  pairs: Set<string>;
  reached: Set<RolloutState>;
  problems: string[];
  maxWave: number;
}

/** Replays paths on `stepRollout` from `createRollout`, checking each step against graph and spec. */
function replay(paths: typeof shortestPaths): Replay {
  const out: Replay = { taken: new Set(), pairs: new Set(), reached: new Set(), problems: [], maxWave: 0 };
  paths.forEach((path, p) => {
    let snapshot = createRollout(INPUT);
    out.reached.add(rolloutStateOf(snapshot));
    const [init, ...steps] = path.steps;
    if ((init?.event as { type: string } | undefined)?.type !== 'xstate.init')
      out.problems.push(`path ${p}: does not start at xstate.init`);
    steps.forEach((step, i) => {
      const event = step.event as RolloutEvent;
      const from = rolloutStateOf(snapshot);
      const where = `path ${p} step ${i} (${from} × ${event.type})`;
      const key = transitionKey(snapshot, event);
      if (key.endsWith('|-1')) out.problems.push(`${where}: no single transition definition`);
      const r = stepRollout(snapshot, event);
      if (!r.ok) {
        out.problems.push(`${where}: stepRollout refused with ${r.error.code}`);
        return;
      }
      // Parity with the graph's own traversal, on what a vertex keeps (value + currentWave). The
      // rest of the context is not part of the vertex, so the graph may hold the context of another
      // predecessor of the same vertex; the spec check below covers the full record.
      if (rolloutStateOf(r.snapshot) !== step.state.value) out.problems.push(`${where}: graph state differs`);
      if (r.snapshot.context.currentWave !== step.state.context.currentWave) {
        out.problems.push(`${where}: graph currentWave differs`);
      }
      // Agreement with the §3.5 matrix.
      const expected = expectedAfter(snapshot, event, specOutcome(from, snapshot.context.currentWave, event));
      const actual = { value: rolloutStateOf(r.snapshot), context: r.snapshot.context, effects: r.effects };
      if (JSON.stringify(actual) !== JSON.stringify(expected)) {
        out.problems.push(`${where}: spec ${JSON.stringify(expected)}, chart ${JSON.stringify(actual)}`);
      }
      out.taken.add(key);
      out.pairs.add(`${from}|${event.type}`);
      snapshot = r.snapshot;
      out.reached.add(rolloutStateOf(snapshot));
      out.maxWave = Math.max(out.maxWave, snapshot.context.currentWave);
    });
  });
  return out;
}

const shortest = replay(shortestPaths);
const simple = replay(simplePaths);

/** Every transition definition of every state node, as `state|eventType|branch`. */
function allTransitionDefinitions(): string[] {
  const keys: string[] = [];
  for (const [name, node] of Object.entries(rolloutMachine.states)) {
    for (const [type, defs] of node.transitions) {
      for (let i = 0; i < defs.length; i++) keys.push(`${name}|${type}|${i}`);
    }
  }
  return keys.sort();
}

/**
 * The pairs the spec refuses, each checked with a real step on a record reached by real events.
 * Returns the pairs it asserted.
 */
function assertRefusals(): string[] {
  const asserted: string[] = [];
  for (const state of ROLLOUT_STATES) {
    const snapshot = reach(state);
    for (const type of ROLLOUT_EVENT_TYPES) {
      const cell = MATRIX[state][type];
      if (cell !== 'illegal' && cell !== 'unimplemented') continue;
      const r = stepRollout(snapshot, EXAMPLE_EVENTS[type]);
      expect(r, `${state} × ${type}`).toEqual({
        ok: false,
        error: {
          code: cell === 'illegal' ? 'IllegalForState' : 'Unimplemented',
          from: state,
          event: type,
          rolloutId: RID,
        },
      });
      asserted.push(`${state}|${type}`);
    }
  }
  return asserted;
}

describe('rollout chart, model-based (xstate/graph)', () => {
  it('the traversal stays small and bounded (waves 0..3)', () => {
    expect(shortestPaths.length).toBeGreaterThan(ROLLOUT_STATES.length);
    expect(shortestPaths.length).toBeLessThanOrEqual(allTransitionDefinitions().length * (MAX_WAVE + 1) + 1);
    expect(shortest.maxWave).toBe(MAX_WAVE);
    expect(simplePaths.length).toBeGreaterThan(0);
    expect(simplePaths.length).toBeLessThan(5_000);
    for (const path of [...shortestPaths, ...simplePaths]) {
      expect(path.state.context.currentWave).toBeLessThanOrEqual(MAX_WAVE);
    }
  });

  it('every shortest and simple path replays on stepRollout exactly as the graph and the spec say', () => {
    expect(shortest.problems).toEqual([]);
    expect(simple.problems).toEqual([]);
  });

  it('every state is reached, by shortest and by simple paths', () => {
    const all = [...ROLLOUT_STATES].sort();
    expect(Object.keys(rolloutMachine.states).sort()).toEqual(all);
    expect([...shortest.reached].sort()).toEqual(all);
    expect([...simple.reached].sort()).toEqual(all);
    expect(new Set(simplePaths.map((p) => p.state.value))).toEqual(new Set(ROLLOUT_STATES));
  });

  it('every transition definition of every state (each guarded branch separately) is taken', () => {
    const defs = allTransitionDefinitions();
    // Sanity: the chart only listens for spec events, and the guarded cells have their 3 branches.
    for (const key of defs) expect(ROLLOUT_EVENT_TYPES).toContain(key.split('|')[1]);
    for (const cell of ['Active|HostStateChanged', 'Active|WaveAdvanced', 'Converging|WaveAdvanced']) {
      expect(defs.filter((k) => k.startsWith(`${cell}|`))).toHaveLength(3);
    }
    const missing = defs.filter((k) => !shortest.taken.has(k));
    expect(missing).toEqual([]);
    // Nothing outside the definitions was taken either.
    expect([...shortest.taken].filter((k) => !defs.includes(k))).toEqual([]);
  });

  it('every event the spec refuses is refused, with the spec’s error', () => {
    const asserted = assertRefusals();
    expect(asserted).toHaveLength(29);
    expect(asserted.filter((p) => p.startsWith('Pruned|'))).toHaveLength(8);
  });

  it('no (state, event type) pair is left neither covered by a path nor asserted refused', () => {
    const refused = new Set(assertRefusals());
    const taken = new Set([...shortest.pairs, ...simple.pairs]);
    const uncovered = ROLLOUT_STATES.flatMap((s) => ROLLOUT_EVENT_TYPES.map((e) => `${s}|${e}`)).filter(
      (pair) => !taken.has(pair) && !refused.has(pair),
    );
    expect(uncovered).toEqual([]);
    // And the two sets are disjoint: no path takes an event the spec refuses.
    expect([...taken].filter((pair) => refused.has(pair))).toEqual([]);
    expect(taken.size + refused.size).toBe(64);
  });

  it('the shortest path to each transition is short (no vertex needs more than 5 events)', () => {
    const longest = Math.max(...shortestPaths.map((p) => p.steps.length - 1));
    expect(longest).toBeLessThanOrEqual(5);
    // The deepest transitions, e.g. Converging × WaveAdvanced (toWave ≤ currentWave branch), are
    // on some path: Opening → Active → (wave up) → Converging → back to Active without a bump.
    expect(shortest.taken.has('Converging|WaveAdvanced|1')).toBe(true);
  });
});
