// Model-based coverage of the host-rollout chart: `xstate/graph` finds a shortest path to every
// distinguishable state; every path plus every alphabet event from its end is replayed through the
// pure step function. Every state and every transition branch must be taken, and every (state,
// event type) pair must be either taken or explicitly asserted illegal.

import { describe, expect, it } from 'vitest';
import { getShortestPaths } from 'xstate/graph';
import {
  createHostRollout,
  HOST_EVENT_TYPES,
  type HostRolloutEventType,
  type HostRolloutSnapshot,
  hostRolloutMachine,
  hostStateOf,
  persistHostRollout,
  stepHostRollout,
} from '../../machines/index.ts';
import { HOST_STATES, type HostState } from '../../proto/index.ts';
import { eventsOfType, hostAlphabet, serializeHostState } from './support/hostAlphabet.ts';
import { at, TARGET } from './support/hostFixtures.ts';

const INPUTS = (['halt', 'rollback-and-halt'] as const).map((onHealthFailure) => ({
  rolloutId: 'stable@r1',
  hostname: 'web-01',
  channel: 'stable',
  targetClosure: TARGET,
  dispatchedAt: at(0),
  soakDueAt: at(300),
  onHealthFailure,
}));

const pairKey = (state: string, type: string) => `${state}|${type}`;

/** Every transition definition of the chart, one key per guarded branch. */
function allBranches(): string[] {
  const keys: string[] = [];
  for (const [state, node] of Object.entries(hostRolloutMachine.states)) {
    for (const [type, defs] of node.transitions) {
      for (let i = 0; i < defs.length; i++) keys.push(`${state}|${type}|${i}`);
    }
  }
  return keys;
}

function branchTaken(
  snapshot: HostRolloutSnapshot,
  event: Parameters<typeof stepHostRollout>[1],
): string | null {
  const state = hostStateOf(snapshot);
  const selected = hostRolloutMachine.getTransitionData(snapshot, event);
  const def = selected[0];
  if (def === undefined) return null;
  const index = hostRolloutMachine.states[state]?.transitions.get(event.type)?.indexOf(def) ?? -1;
  expect(index).toBeGreaterThanOrEqual(0);
  return `${state}|${event.type}|${index}`;
}

// Filled by the tests below, read by the completeness test at the end of the file (vitest runs a
// file's tests in order).
const takenBranches = new Set<string>();
const takenPairs = new Set<string>();
const assertedIllegal = new Set<string>();
const reachedStates = new Set<HostState>();
const sampleByState = new Map<HostState, HostRolloutSnapshot>();

describe('host-rollout chart: generated paths', () => {
  it('reaches every state and takes every transition branch', () => {
    let pathCount = 0;
    for (const input of INPUTS) {
      const paths = getShortestPaths(hostRolloutMachine, {
        input,
        events: hostAlphabet,
        serializeState: serializeHostState,
      });
      pathCount += paths.length;
      for (const path of paths) {
        // Replay the path through the step function, not the traversal's own snapshots.
        let s = createHostRollout(input);
        for (const step of path.steps.slice(1)) {
          const branch = branchTaken(s, step.event);
          const r = stepHostRollout(s, step.event);
          if (!r.ok) expect.fail(`path step ${step.event.type} refused: ${JSON.stringify(r.error)}`);
          expect(branch).not.toBeNull();
          takenBranches.add(branch as string);
          takenPairs.add(pairKey(hostStateOf(s), step.event.type));
          s = r.snapshot;
          reachedStates.add(hostStateOf(s));
        }
        reachedStates.add(hostStateOf(s));
        if (!sampleByState.has(hostStateOf(s))) sampleByState.set(hostStateOf(s), s);
        // One more step with every event of the alphabet: every edge leaving this state.
        for (const event of hostAlphabet(s)) {
          const branch = branchTaken(s, event);
          const r = stepHostRollout(s, event);
          expect(r.ok).toBe(branch !== null);
          if (r.ok && branch !== null) {
            takenBranches.add(branch);
            takenPairs.add(pairKey(hostStateOf(s), event.type));
            reachedStates.add(hostStateOf(r.snapshot));
          }
        }
      }
    }
    expect(pathCount).toBeGreaterThan(10);
    expect([...reachedStates].sort()).toEqual([...HOST_STATES].sort());
    expect(allBranches().filter((b) => !takenBranches.has(b))).toEqual([]);
  });

  it('every pair a state does not handle is IllegalForState and changes nothing', () => {
    for (const state of HOST_STATES) {
      const s = sampleByState.get(state);
      if (s === undefined) expect.fail(`no sample snapshot for ${state}`);
      const handled = hostRolloutMachine.states[state]?.transitions;
      for (const type of HOST_EVENT_TYPES) {
        if (handled?.has(type) === true) continue;
        for (const event of eventsOfType(type, s.context.lastEventSeq + 1)) {
          const r = stepHostRollout(s, event);
          expect(r).toEqual({
            ok: false,
            error: {
              code: 'IllegalForState',
              from: state,
              event: type,
              rolloutId: 'stable@r1',
              hostname: 'web-01',
            },
          });
        }
        assertedIllegal.add(pairKey(state, type));
      }
    }
  });

  it('legal pairs number 28 of the spec matrix (7 × 24), 20 of the original 6 × 20, 30 with RollbackFailed', () => {
    const legal = (states: readonly string[], types: readonly string[]) =>
      states.flatMap((s) => types.filter((t) => hostRolloutMachine.states[s]?.transitions.has(t) === true))
        .length;
    const specTypes = HOST_EVENT_TYPES.filter((t) => !t.endsWith('RollbackFailed'));
    expect(specTypes).toHaveLength(24);
    expect(legal(HOST_STATES, specTypes)).toBe(28);
    const originalStates = HOST_STATES.filter((s) => s !== 'Deferred');
    const originalTypes = specTypes.filter((t) => !/ActivationDeferred|ProbeTopologyDeclared/.test(t));
    expect(originalTypes).toHaveLength(20);
    expect(legal(originalStates, originalTypes)).toBe(20);
    expect(legal(HOST_STATES, HOST_EVENT_TYPES)).toBe(30);
  });

  it('lists no (state, event) pair that is neither covered nor asserted illegal', () => {
    const unaccounted: string[] = [];
    for (const state of HOST_STATES) {
      for (const type of HOST_EVENT_TYPES as HostRolloutEventType[]) {
        const key = pairKey(state, type);
        if (!takenPairs.has(key) && !assertedIllegal.has(key)) unaccounted.push(key);
      }
    }
    expect(takenPairs.size + assertedIllegal.size).toBe(HOST_STATES.length * HOST_EVENT_TYPES.length);
    expect(unaccounted).toEqual([]);
  });

  it('snapshots reached along the paths survive a JSON round trip', () => {
    for (const s of sampleByState.values()) {
      const round = JSON.parse(JSON.stringify(persistHostRollout(s)));
      expect(round).toEqual(persistHostRollout(s));
    }
  });
});
