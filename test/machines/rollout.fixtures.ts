// Shared fixtures for the rollout-chart tests: event builders, a driver that reaches each state with
// real events, and an oracle transcribed from the spec's §3.5 transition matrix. The oracle is
// written from the spec table, never from the chart, so the chart is checked against it.

import type { RolloutContext, RolloutInput } from '../../machines/rollout/context.ts';
import {
  createRollout,
  type RolloutSnapshot,
  rolloutStateOf,
  stepRollout,
} from '../../machines/rollout/step.ts';
import { HOST_STATES, type HostState } from '../../proto/common.ts';
import type {
  RolloutEffect,
  RolloutEvent,
  RolloutEventType,
  RolloutState,
} from '../../proto/rolloutEvent.ts';

export const RID = 'stable@r1';
export const SUCCESSOR = 'stable@r2';
export const INPUT: RolloutInput = {
  rolloutId: RID,
  channel: 'stable',
  targetRef: 'r1',
  openedAt: '2026-04-24T10:00:00Z',
};

/** A distinct RFC 3339 instant per `n` (seconds after the rollout opened). */
export const at = (n: number): string => new Date(Date.UTC(2026, 3, 24, 10, 0, 0) + n * 1000).toISOString();

type Of<T extends RolloutEventType> = Extract<RolloutEvent, { type: T }>;

export const ev = {
  opened: (n = 1): Of<'RolloutOpened'> => ({
    type: 'RolloutOpened',
    rolloutId: RID,
    channel: 'stable',
    targetRef: 'r1',
    at: at(n),
  }),
  joined: (hostId: string, wave: number, n = 2): Of<'HostJoined'> => ({
    type: 'HostJoined',
    rolloutId: RID,
    hostId,
    wave,
    at: at(n),
  }),
  host: (from: HostState, to: HostState, n = 3, hostId = 'h1'): Of<'HostStateChanged'> => ({
    type: 'HostStateChanged',
    rolloutId: RID,
    hostId,
    from,
    to,
    at: at(n),
  }),
  wave: (fromWave: number, toWave: number, n = 4): Of<'WaveAdvanced'> => ({
    type: 'WaveAdvanced',
    rolloutId: RID,
    fromWave,
    toWave,
    at: at(n),
  }),
  terminal: (n = 5): Of<'RolloutTerminal'> => ({ type: 'RolloutTerminal', rolloutId: RID, at: at(n) }),
  successor: (n = 6): Of<'SuccessorOpened'> => ({
    type: 'SuccessorOpened',
    supersededRolloutId: RID,
    successorRolloutId: SUCCESSOR,
    at: at(n),
  }),
  retention: (n = 7): Of<'RetentionExpired'> => ({ type: 'RetentionExpired', rolloutId: RID, at: at(n) }),
  clearance: (n = 8): Of<'OperatorClearance'> => ({
    type: 'OperatorClearance',
    rolloutId: RID,
    operator: 'alice',
    reason: 'investigated',
    at: at(n),
  }),
};

/** One example of every event type, keyed by type (the compiler insists on all eight). */
export const EXAMPLE_EVENTS: { [T in RolloutEventType]: Of<T> } = {
  RolloutOpened: ev.opened(),
  HostJoined: ev.joined('h1', 0),
  HostStateChanged: ev.host('Soaking', 'Converged'),
  WaveAdvanced: ev.wave(0, 1),
  RolloutTerminal: ev.terminal(),
  SuccessorOpened: ev.successor(),
  RetentionExpired: ev.retention(),
  OperatorClearance: ev.clearance(),
};

/**
 * Real events that take a fresh rollout to `state` with `currentWave = wave`. Opening can only
 * hold wave 0 (nothing but WaveAdvanced moves the wave, and Opening refuses it).
 */
export function pathTo(state: RolloutState, wave = 0): RolloutEvent[] {
  if (state === 'Opening') {
    if (wave !== 0) throw new Error('Opening always has currentWave 0');
    return [];
  }
  if (state === 'Superseded' && wave === 0) return [ev.successor(20)];
  const active: RolloutEvent[] = [ev.joined('h1', 0, 10), ...(wave > 0 ? [ev.wave(0, wave, 11)] : [])];
  switch (state) {
    case 'Active':
      return active;
    case 'Converging':
      return [...active, ev.wave(wave, wave, 12)];
    case 'Terminal':
      return [...active, ev.terminal(13)];
    case 'Failed':
      return [...active, ev.host('Soaking', 'Failed', 14)];
    case 'Reverted':
      return [...active, ev.host('Failed', 'Reverted', 15)];
    case 'Superseded':
      return [...active, ev.successor(16)];
    case 'Pruned':
      return [...active, ev.terminal(17), ev.retention(18)];
  }
}

/** Steps every event and fails loudly if the chart refuses one. */
export function drive(events: readonly RolloutEvent[], from: RolloutSnapshot = createRollout(INPUT)) {
  let snapshot = from;
  for (const event of events) {
    const r = stepRollout(snapshot, event);
    if (!r.ok)
      throw new Error(`driver: ${event.type} refused in ${rolloutStateOf(snapshot)}: ${r.error.code}`);
    snapshot = r.snapshot;
  }
  return snapshot;
}

export function reach(state: RolloutState, wave = 0): RolloutSnapshot {
  const s = drive(pathTo(state, wave));
  if (rolloutStateOf(s) !== state || s.context.currentWave !== wave) {
    throw new Error(
      `driver reached ${rolloutStateOf(s)}/w${s.context.currentWave}, wanted ${state}/w${wave}`,
    );
  }
  return s;
}

// ---------------------------------------------------------------------------------------------
// §3.5 transition matrix, cell by cell. `hostState` and `wave` cells depend on the payload and
// are expanded by `specOutcome` exactly as the spec words them.

export type Cell =
  | 'illegal'
  | 'unimplemented'
  | 'no-op'
  | 'hostState'
  | 'wave'
  | `→${Exclude<RolloutState, 'Opening'>}`;

export const MATRIX: { [S in RolloutState]: { [E in RolloutEventType]: Cell } } = {
  Opening: {
    RolloutOpened: 'illegal',
    HostJoined: '→Active',
    HostStateChanged: 'illegal',
    WaveAdvanced: 'illegal',
    RolloutTerminal: 'illegal',
    SuccessorOpened: '→Superseded',
    RetentionExpired: 'illegal',
    OperatorClearance: 'illegal',
  },
  Active: {
    RolloutOpened: 'illegal',
    HostJoined: 'no-op',
    HostStateChanged: 'hostState',
    WaveAdvanced: 'wave',
    RolloutTerminal: '→Terminal',
    SuccessorOpened: '→Superseded',
    RetentionExpired: 'illegal',
    OperatorClearance: 'illegal',
  },
  Converging: {
    RolloutOpened: 'illegal',
    HostJoined: 'no-op',
    HostStateChanged: 'hostState',
    WaveAdvanced: 'wave',
    RolloutTerminal: '→Terminal',
    SuccessorOpened: '→Superseded',
    RetentionExpired: 'illegal',
    OperatorClearance: 'illegal',
  },
  Terminal: {
    RolloutOpened: 'illegal',
    HostJoined: 'no-op',
    HostStateChanged: 'no-op',
    WaveAdvanced: 'illegal',
    RolloutTerminal: 'no-op',
    SuccessorOpened: '→Superseded',
    RetentionExpired: '→Pruned',
    OperatorClearance: 'illegal',
  },
  Failed: {
    RolloutOpened: 'illegal',
    HostJoined: 'no-op',
    HostStateChanged: 'no-op',
    WaveAdvanced: 'no-op',
    RolloutTerminal: 'no-op',
    SuccessorOpened: '→Superseded',
    RetentionExpired: '→Pruned',
    OperatorClearance: 'unimplemented',
  },
  Reverted: {
    RolloutOpened: 'illegal',
    HostJoined: 'no-op',
    HostStateChanged: 'no-op',
    WaveAdvanced: 'no-op',
    RolloutTerminal: 'no-op',
    SuccessorOpened: '→Superseded',
    RetentionExpired: '→Pruned',
    OperatorClearance: 'unimplemented',
  },
  Superseded: {
    RolloutOpened: 'illegal',
    HostJoined: 'no-op',
    HostStateChanged: 'no-op',
    WaveAdvanced: 'no-op',
    RolloutTerminal: 'no-op',
    SuccessorOpened: 'no-op',
    RetentionExpired: '→Pruned',
    OperatorClearance: 'illegal',
  },
  Pruned: {
    RolloutOpened: 'illegal',
    HostJoined: 'illegal',
    HostStateChanged: 'illegal',
    WaveAdvanced: 'illegal',
    RolloutTerminal: 'illegal',
    SuccessorOpened: 'illegal',
    RetentionExpired: 'illegal',
    OperatorClearance: 'illegal',
  },
};

export type Outcome =
  | { kind: 'illegal' }
  | { kind: 'unimplemented' }
  | { kind: 'no-op' }
  /** Stays in the same state, moves currentWave and emits UpdateCurrentWave only. */
  | { kind: 'wave'; wave: number }
  /** Exactly one RecordRolloutTransition, then UpdateCurrentWave iff `wave` is set. */
  | { kind: 'transition'; to: RolloutState; wave?: number };

export function specOutcome(state: RolloutState, currentWave: number, event: RolloutEvent): Outcome {
  const cell = MATRIX[state][event.type];
  switch (cell) {
    case 'illegal':
    case 'unimplemented':
    case 'no-op':
      return { kind: cell };
    case 'hostState': {
      if (event.type !== 'HostStateChanged') throw new Error('hostState cell for a non-host event');
      if (event.to === 'Reverted') return { kind: 'transition', to: 'Reverted' };
      if (event.to === 'Failed') return { kind: 'transition', to: 'Failed' };
      return { kind: 'no-op' };
    }
    case 'wave': {
      if (event.type !== 'WaveAdvanced') throw new Error('wave cell for a non-wave event');
      const forward = event.toWave > event.fromWave;
      const pastCurrent = event.toWave > currentWave;
      if (state === 'Active') {
        if (!forward) return { kind: 'transition', to: 'Converging' };
        return pastCurrent ? { kind: 'wave', wave: event.toWave } : { kind: 'no-op' };
      }
      if (!forward) return { kind: 'no-op' };
      return pastCurrent
        ? { kind: 'transition', to: 'Active', wave: event.toWave }
        : { kind: 'transition', to: 'Active' };
    }
    default:
      return { kind: 'transition', to: cell.slice(1) as RolloutState };
  }
}

/** What the spec says the record and the effects look like after an accepted step. */
export function expectedAfter(
  before: RolloutSnapshot,
  event: RolloutEvent,
  outcome: Outcome,
): { value: RolloutState; context: RolloutContext; effects: RolloutEffect[] } | null {
  const from = rolloutStateOf(before);
  const ctx = before.context;
  switch (outcome.kind) {
    case 'illegal':
    case 'unimplemented':
      return null;
    case 'no-op':
      return { value: from, context: ctx, effects: [] };
    case 'wave':
      return {
        value: from,
        context: { ...ctx, currentWave: outcome.wave },
        effects: [{ type: 'UpdateCurrentWave', rolloutId: ctx.rolloutId, wave: outcome.wave }],
      };
    case 'transition': {
      const context: RolloutContext = { ...ctx };
      if (outcome.to === 'Terminal') {
        context.terminalAt = event.at;
        context.finishedAt = event.at;
      } else if (outcome.to === 'Failed' || outcome.to === 'Reverted') {
        context.finishedAt = ctx.finishedAt ?? event.at;
      } else if (outcome.to === 'Superseded') {
        if (event.type !== 'SuccessorOpened') throw new Error('only SuccessorOpened supersedes');
        context.supersededAt = event.at;
        context.supersededBy = event.successorRolloutId;
      }
      const effects: RolloutEffect[] = [
        { type: 'RecordRolloutTransition', rolloutId: ctx.rolloutId, from, to: outcome.to, at: event.at },
      ];
      if (outcome.wave !== undefined) {
        context.currentWave = outcome.wave;
        effects.push({ type: 'UpdateCurrentWave', rolloutId: ctx.rolloutId, wave: outcome.wave });
      }
      return { value: outcome.to, context, effects };
    }
  }
}

/**
 * A complete, bounded event alphabet: every event type, HostJoined for early and late waves,
 * HostStateChanged to every host state, and WaveAdvanced for every (from, to) in waves 0..3.
 */
export function eventAlphabet(): RolloutEvent[] {
  const waves = [0, 1, 2, 3];
  return [
    ev.opened(),
    ev.joined('h1', 0),
    ev.joined('h3', 3),
    ...HOST_STATES.map((to) => ev.host(to === 'Pending' ? 'Activating' : 'Pending', to)),
    ...waves.flatMap((f) => waves.map((t) => ev.wave(f, t))),
    ev.terminal(),
    ev.successor(),
    ev.retention(),
    ev.clearance(),
  ];
}
