// The rollout lifecycle (spec §3, RFC-0008): one actor per rollout, driven by the CP. The state is
// advisory for operators and for ordering (channel edges read `terminalAt`); the planner never
// dispatches from it directly.
//
// A transition with no target and no actions is a deliberate no-op (the event is legal and
// ignored); an event a state does not list is IllegalForState; `meta.unimplemented` lists events
// the spec reserves as Unimplemented in that state.
import { assign, emit, setup } from 'xstate';
import type { HostState } from '../../proto/common.ts';
import type { RolloutEffect, RolloutEvent, RolloutState } from '../../proto/rolloutEvent.ts';
import { newRolloutRecord, type RolloutContext, type RolloutInput } from './context.ts';

export const ROLLOUT_MACHINE_ID = 'rollout';
export const ROLLOUT_MACHINE_VERSION = 1;

export interface RolloutStateMeta {
  unimplemented?: readonly RolloutEvent['type'][];
}

const PLACEHOLDER_CONTEXT: RolloutContext = newRolloutRecord({
  rolloutId: 'placeholder@0',
  channel: 'placeholder',
  targetRef: '0',
  openedAt: '1970-01-01T00:00:00Z',
});

function narrow<T extends RolloutEvent['type']>(
  event: RolloutEvent,
  type: T,
): Extract<RolloutEvent, { type: T }> {
  if (event.type !== type) throw new Error(`rollout action for ${type} ran on ${event.type}`);
  return event as Extract<RolloutEvent, { type: T }>;
}

const hostWentTo =
  (to: HostState) =>
  ({ event }: { event: RolloutEvent }): boolean =>
    narrow(event, 'HostStateChanged').to === to;

export const rolloutMachine = setup({
  types: {
    context: {} as RolloutContext,
    events: {} as RolloutEvent,
    input: {} as RolloutInput,
    emitted: {} as RolloutEffect,
    meta: {} as RolloutStateMeta,
  },
  guards: {
    hostReverted: hostWentTo('Reverted'),
    hostFailed: hostWentTo('Failed'),
    waveMovesForward: ({ event }) => {
      const e = narrow(event, 'WaveAdvanced');
      return e.toWave > e.fromWave;
    },
    waveMovesPastCurrent: ({ context, event }) => {
      const e = narrow(event, 'WaveAdvanced');
      return e.toWave > e.fromWave && e.toWave > context.currentWave;
    },
  },
  actions: {
    recordTransition: emit(({ context, event }, params: { from: RolloutState; to: RolloutState }) => ({
      type: 'RecordRolloutTransition' as const,
      rolloutId: context.rolloutId,
      from: params.from,
      to: params.to,
      at: event.at,
    })),
    advanceWave: assign({ currentWave: ({ event }) => narrow(event, 'WaveAdvanced').toWave }),
    emitCurrentWave: emit(({ context }) => ({
      type: 'UpdateCurrentWave' as const,
      rolloutId: context.rolloutId,
      wave: context.currentWave,
    })),
    stampTerminal: assign({
      terminalAt: ({ event }) => event.at,
      finishedAt: ({ event }) => event.at,
    }),
    stampFinished: assign({ finishedAt: ({ context, event }) => context.finishedAt ?? event.at }),
    stampSuperseded: assign({
      supersededAt: ({ event }) => event.at,
      supersededBy: ({ event }) => narrow(event, 'SuccessorOpened').successorRolloutId,
    }),
  },
}).createMachine({
  id: ROLLOUT_MACHINE_ID,
  initial: 'Opening',
  context: ({ input }) => (input === undefined ? PLACEHOLDER_CONTEXT : newRolloutRecord(input)),
  states: {
    Opening: {
      on: {
        // The joiner's wave is never applied to currentWave (a regression pinned by the original:
        // later-wave hosts joining on the first tick would drag the cursor forward).
        HostJoined: {
          target: 'Active',
          actions: { type: 'recordTransition', params: { from: 'Opening', to: 'Active' } },
        },
        SuccessorOpened: {
          target: 'Superseded',
          actions: [
            'stampSuperseded',
            { type: 'recordTransition', params: { from: 'Opening', to: 'Superseded' } },
          ],
        },
      },
    },
    Active: {
      on: {
        HostJoined: {},
        HostStateChanged: [
          {
            guard: 'hostReverted',
            target: 'Reverted',
            actions: [
              'stampFinished',
              { type: 'recordTransition', params: { from: 'Active', to: 'Reverted' } },
            ],
          },
          {
            guard: 'hostFailed',
            target: 'Failed',
            actions: [
              'stampFinished',
              { type: 'recordTransition', params: { from: 'Active', to: 'Failed' } },
            ],
          },
          {},
        ],
        WaveAdvanced: [
          { guard: 'waveMovesPastCurrent', actions: ['advanceWave', 'emitCurrentWave'] },
          { guard: 'waveMovesForward' },
          {
            target: 'Converging',
            actions: { type: 'recordTransition', params: { from: 'Active', to: 'Converging' } },
          },
        ],
        RolloutTerminal: {
          target: 'Terminal',
          actions: [
            'stampTerminal',
            { type: 'recordTransition', params: { from: 'Active', to: 'Terminal' } },
          ],
        },
        SuccessorOpened: {
          target: 'Superseded',
          actions: [
            'stampSuperseded',
            { type: 'recordTransition', params: { from: 'Active', to: 'Superseded' } },
          ],
        },
      },
    },
    Converging: {
      on: {
        HostJoined: {},
        HostStateChanged: [
          {
            guard: 'hostReverted',
            target: 'Reverted',
            actions: [
              'stampFinished',
              { type: 'recordTransition', params: { from: 'Converging', to: 'Reverted' } },
            ],
          },
          {
            guard: 'hostFailed',
            target: 'Failed',
            actions: [
              'stampFinished',
              { type: 'recordTransition', params: { from: 'Converging', to: 'Failed' } },
            ],
          },
          {},
        ],
        WaveAdvanced: [
          {
            guard: 'waveMovesPastCurrent',
            target: 'Active',
            actions: [
              { type: 'recordTransition', params: { from: 'Converging', to: 'Active' } },
              'advanceWave',
              'emitCurrentWave',
            ],
          },
          {
            guard: 'waveMovesForward',
            target: 'Active',
            actions: { type: 'recordTransition', params: { from: 'Converging', to: 'Active' } },
          },
          {},
        ],
        RolloutTerminal: {
          target: 'Terminal',
          actions: [
            'stampTerminal',
            { type: 'recordTransition', params: { from: 'Converging', to: 'Terminal' } },
          ],
        },
        SuccessorOpened: {
          target: 'Superseded',
          actions: [
            'stampSuperseded',
            { type: 'recordTransition', params: { from: 'Converging', to: 'Superseded' } },
          ],
        },
      },
    },
    Terminal: {
      on: {
        HostJoined: {},
        HostStateChanged: {},
        RolloutTerminal: {},
        SuccessorOpened: {
          target: 'Superseded',
          actions: [
            'stampSuperseded',
            { type: 'recordTransition', params: { from: 'Terminal', to: 'Superseded' } },
          ],
        },
        RetentionExpired: {
          target: 'Pruned',
          actions: { type: 'recordTransition', params: { from: 'Terminal', to: 'Pruned' } },
        },
      },
    },
    Failed: {
      meta: { unimplemented: ['OperatorClearance'] },
      on: {
        HostJoined: {},
        HostStateChanged: {},
        WaveAdvanced: {},
        RolloutTerminal: {},
        SuccessorOpened: {
          target: 'Superseded',
          actions: [
            'stampSuperseded',
            { type: 'recordTransition', params: { from: 'Failed', to: 'Superseded' } },
          ],
        },
        RetentionExpired: {
          target: 'Pruned',
          actions: { type: 'recordTransition', params: { from: 'Failed', to: 'Pruned' } },
        },
      },
    },
    Reverted: {
      meta: { unimplemented: ['OperatorClearance'] },
      on: {
        HostJoined: {},
        HostStateChanged: {},
        WaveAdvanced: {},
        RolloutTerminal: {},
        SuccessorOpened: {
          target: 'Superseded',
          actions: [
            'stampSuperseded',
            { type: 'recordTransition', params: { from: 'Reverted', to: 'Superseded' } },
          ],
        },
        RetentionExpired: {
          target: 'Pruned',
          actions: { type: 'recordTransition', params: { from: 'Reverted', to: 'Pruned' } },
        },
      },
    },
    Superseded: {
      on: {
        HostJoined: {},
        HostStateChanged: {},
        WaveAdvanced: {},
        RolloutTerminal: {},
        SuccessorOpened: {},
        RetentionExpired: {
          target: 'Pruned',
          actions: { type: 'recordTransition', params: { from: 'Superseded', to: 'Pruned' } },
        },
      },
    },
    Pruned: { type: 'final' },
  },
});

export type RolloutMachine = typeof rolloutMachine;
