// The host-rollout lifecycle (spec §2, RFC-0005): one actor per (rollout, host), interpreted by the
// agent (Local* events → Local* effects) and by the CP (Remote* mirrors → Remote* effects).
//
// Purity rules for this file: only `assign`, `emit` and side-effect-free guards; time comes from
// event fields; no `after`, `invoke`, `sendParent` (see spec/xstate-notes.md). Every transition is
// guarded by `seqIsNew`, so the chart on its own never applies a stale or replayed event.
import { and, assign, emit, setup } from 'xstate';
import type { AgentEventKind, AgentEventOf } from '../../proto/agentEvent.ts';
import { DURABLE_KINDS } from '../../proto/agentEvent.ts';
import type { HostState } from '../../proto/common.ts';
import { addMinutes } from '../common/time.ts';
import { type HostRolloutContext, type HostRolloutInput, newPendingRecord } from './context.ts';
import type { HostEffect } from './effects.ts';
import { eventTime, type HostRolloutEvent, kindOf, toAgentEvent } from './events.ts';
import { applyProbeResult, convergedInvariantViolation } from './records.ts';

export const HOST_ROLLOUT_MACHINE_ID = 'hostRollout';
/** Bump when a change would make a persisted snapshot mean something else (states, context). */
export const HOST_ROLLOUT_MACHINE_VERSION = 1;

/** The chart's event narrowed to one wire kind, for actions that only run on that kind. */
function payloadOf<K extends AgentEventKind>(
  event: HostRolloutEvent,
  kind: K,
): Omit<AgentEventOf<K>, 'kind'> {
  const actual = kindOf(event.type);
  if (actual !== kind) throw new Error(`action for ${kind} ran on ${event.type}`);
  return event as unknown as Omit<AgentEventOf<K>, 'kind'>;
}

// `transition()` builds a throwaway actor per call and runs the context factory without input;
// answer that with a fixed placeholder instead of validating (spec/xstate-notes.md §2.2).
const PLACEHOLDER_CONTEXT: HostRolloutContext = newPendingRecord({
  rolloutId: 'placeholder@0',
  hostname: 'placeholder',
  channel: 'placeholder',
  targetClosure: 'placeholder',
  dispatchedAt: '1970-01-01T00:00:00Z',
});

type Transition = { from: HostState; to: HostState };

export const hostRolloutMachine = setup({
  types: {
    context: {} as HostRolloutContext,
    events: {} as HostRolloutEvent,
    input: {} as HostRolloutInput,
    emitted: {} as HostEffect,
  },
  guards: {
    seqIsNew: ({ context, event }) => event.seq > context.lastEventSeq,
    /** An empty string counts as set: the agent stores "" when /run/current-system was missing. */
    hasCcAtDispatch: ({ context }) => context.currentClosureAtDispatch !== null,
    rolloutPolicyRollsBack: ({ context }) => context.onHealthFailure === 'rollback-and-halt',
    eventPolicyRollsBack: ({ event }) => payloadOf(event, 'Failed').policyApplied === 'rollback-and-halt',
    convergedInvariantsHold: ({ context, event }) =>
      convergedInvariantViolation(context, payloadOf(event, 'Converged')) === null,
  },
  actions: {
    acceptSeq: assign({ lastEventSeq: ({ event }) => event.seq }),
    recordDispatchAck: assign(({ event }) => {
      const e = payloadOf(event, 'DispatchAck');
      return { currentClosureAtDispatch: e.currentClosureAtDispatch, dispatchAckedAt: e.receivedAt };
    }),
    recordActivationStarted: assign({
      activationStartedAt: ({ event }) => payloadOf(event, 'ActivationStarted').startedAt,
    }),
    recordActivationCompleted: assign(({ context, event }) => {
      const e = payloadOf(event, 'ActivationCompleted');
      return {
        activationCompletedAt: e.completedAt,
        currentClosure: e.observedCurrentClosure,
        probes: {},
        soakDueAt:
          context.soakMinutes === null ? context.soakDueAt : addMinutes(e.completedAt, context.soakMinutes),
      };
    }),
    recordDeferral: assign(({ event }) => {
      const e = payloadOf(event, 'ActivationDeferred');
      return { deferredAt: e.deferredAt, deferredComponent: e.component };
    }),
    recordActivationFailed: assign(({ event }) => {
      const { failedAt } = payloadOf(event, 'ActivationFailed');
      return { activationFailedAt: failedAt, failedAt };
    }),
    applyRolloutPolicy: assign({ policyApplied: ({ context }) => context.onHealthFailure }),
    recordProbeTopology: assign({
      declaredProbes: ({ event }) => payloadOf(event, 'ProbeTopologyDeclared').probes,
    }),
    recordProbeObservedFirst: assign({
      probeObservedFirstAt: ({ context, event }) =>
        context.probeObservedFirstAt ?? payloadOf(event, 'ProbeObservedFirst').observedAt,
    }),
    recordProbeResult: assign({
      probes: ({ context, event }) => applyProbeResult(context.probes, payloadOf(event, 'ProbeResult')),
    }),
    recordProbeFailureFirst: assign({
      probeFailureFirstAt: ({ context, event }) =>
        context.probeFailureFirstAt ?? payloadOf(event, 'ProbeFailureFirst').firstFailedAt,
    }),
    recordSustainedFailure: assign(({ event }) => {
      const e = payloadOf(event, 'Failed');
      return { failedAt: e.failedAt, policyApplied: e.policyApplied };
    }),
    recordConverged: assign(({ event }) => {
      const e = payloadOf(event, 'Converged');
      return { convergedAt: e.convergedAt, currentClosure: e.currentClosure };
    }),
    recordRollback: assign(({ event }) => {
      const e = payloadOf(event, 'RollbackComplete');
      return {
        revertedAt: e.completedAt,
        revertedTo: e.revertedToClosure,
        currentClosure: e.revertedToClosure,
      };
    }),
    recordRollbackFailure: assign(({ event }) => {
      const e = payloadOf(event, 'RollbackFailed');
      return { rollbackFailedAt: e.failedAt, rollbackFailure: `exit ${e.exitCode}: ${e.stderrTail}` };
    }),

    // Effects (spec §2.5), in the order each transition lists them.
    emitOutbound: emit(({ context, event }) => {
      const payload = toAgentEvent(event);
      return {
        type: 'LocalEmitEvent' as const,
        rolloutId: context.rolloutId,
        payload,
        durable: DURABLE_KINDS.has(payload.kind),
      };
    }),
    appendEventLog: emit(({ context, event }) => ({
      type: 'RemoteAppendEventLog' as const,
      host: context.hostname,
      rolloutId: context.rolloutId,
      payload: toAgentEvent(event),
    })),
    recordTransition: emit(({ context, event }, params: Transition) => ({
      type: 'RecordTransition' as const,
      host: context.hostname,
      rolloutId: context.rolloutId,
      from: params.from,
      to: params.to,
      at: eventTime(event),
    })),
    fireSwitch: emit(({ context }) => ({
      type: 'LocalFireSwitch' as const,
      rolloutId: context.rolloutId,
      target: context.targetClosure,
    })),
    fireRollback: emit(({ context }) => ({
      type: 'LocalFireRollbackTo' as const,
      rolloutId: context.rolloutId,
      closure: context.currentClosureAtDispatch ?? '',
    })),
    resetProbeCache: emit(({ context }) => ({
      type: 'LocalResetProbeCache' as const,
      rolloutId: context.rolloutId,
    })),
    insertQuarantine: emit(({ context }) => ({
      type: 'RemoteInsertQuarantine' as const,
      channel: context.channel,
      closure: context.targetClosure,
    })),
  },
}).createMachine({
  id: HOST_ROLLOUT_MACHINE_ID,
  initial: 'Pending',
  context: ({ input }) => (input === undefined ? PLACEHOLDER_CONTEXT : newPendingRecord(input)),
  states: {
    Pending: {
      on: {
        LocalActivate: {
          guard: 'seqIsNew',
          target: 'Activating',
          actions: [
            'acceptSeq',
            'recordDispatchAck',
            { type: 'recordTransition', params: { from: 'Pending', to: 'Activating' } },
            'emitOutbound',
            'fireSwitch',
          ],
        },
        RemoteDispatchAck: {
          guard: 'seqIsNew',
          target: 'Activating',
          actions: [
            'acceptSeq',
            'recordDispatchAck',
            'appendEventLog',
            { type: 'recordTransition', params: { from: 'Pending', to: 'Activating' } },
          ],
        },
      },
    },

    Activating: {
      on: {
        LocalActivationStarted: {
          guard: 'seqIsNew',
          actions: ['acceptSeq', 'recordActivationStarted', 'emitOutbound'],
        },
        RemoteActivationStarted: {
          guard: 'seqIsNew',
          actions: ['acceptSeq', 'recordActivationStarted', 'appendEventLog'],
        },
        LocalActivationCompleted: {
          guard: 'seqIsNew',
          target: 'Soaking',
          actions: [
            'acceptSeq',
            'recordActivationCompleted',
            'resetProbeCache',
            'emitOutbound',
            { type: 'recordTransition', params: { from: 'Activating', to: 'Soaking' } },
          ],
        },
        RemoteActivationCompleted: {
          guard: 'seqIsNew',
          target: 'Soaking',
          actions: [
            'acceptSeq',
            'recordActivationCompleted',
            'appendEventLog',
            { type: 'recordTransition', params: { from: 'Activating', to: 'Soaking' } },
          ],
        },
        LocalActivationDeferred: {
          guard: 'seqIsNew',
          target: 'Deferred',
          actions: [
            'acceptSeq',
            'recordDeferral',
            'emitOutbound',
            { type: 'recordTransition', params: { from: 'Activating', to: 'Deferred' } },
          ],
        },
        RemoteActivationDeferred: {
          guard: 'seqIsNew',
          target: 'Deferred',
          actions: [
            'acceptSeq',
            'recordDeferral',
            'appendEventLog',
            { type: 'recordTransition', params: { from: 'Activating', to: 'Deferred' } },
          ],
        },
        LocalActivationFailed: [
          {
            guard: and(['seqIsNew', 'rolloutPolicyRollsBack', 'hasCcAtDispatch']),
            target: 'Failed',
            actions: [
              'acceptSeq',
              'recordActivationFailed',
              'applyRolloutPolicy',
              'emitOutbound',
              { type: 'recordTransition', params: { from: 'Activating', to: 'Failed' } },
              'fireRollback',
            ],
          },
          {
            guard: 'seqIsNew',
            target: 'Failed',
            actions: [
              'acceptSeq',
              'recordActivationFailed',
              'applyRolloutPolicy',
              'emitOutbound',
              { type: 'recordTransition', params: { from: 'Activating', to: 'Failed' } },
            ],
          },
        ],
        RemoteActivationFailed: {
          guard: 'seqIsNew',
          target: 'Failed',
          actions: [
            'acceptSeq',
            'recordActivationFailed',
            'applyRolloutPolicy',
            'appendEventLog',
            { type: 'recordTransition', params: { from: 'Activating', to: 'Failed' } },
          ],
        },
      },
    },

    // Staged for next boot: ordering-eligible, not health-verified. No policy, no rollback.
    Deferred: {
      on: {
        LocalActivationCompleted: {
          guard: 'seqIsNew',
          target: 'Soaking',
          actions: [
            'acceptSeq',
            'recordActivationCompleted',
            'resetProbeCache',
            'emitOutbound',
            { type: 'recordTransition', params: { from: 'Deferred', to: 'Soaking' } },
          ],
        },
        RemoteActivationCompleted: {
          guard: 'seqIsNew',
          target: 'Soaking',
          actions: [
            'acceptSeq',
            'recordActivationCompleted',
            'appendEventLog',
            { type: 'recordTransition', params: { from: 'Deferred', to: 'Soaking' } },
          ],
        },
        LocalActivationFailed: {
          guard: 'seqIsNew',
          target: 'Failed',
          actions: [
            'acceptSeq',
            'recordActivationFailed',
            'emitOutbound',
            { type: 'recordTransition', params: { from: 'Deferred', to: 'Failed' } },
          ],
        },
        RemoteActivationFailed: {
          guard: 'seqIsNew',
          target: 'Failed',
          actions: [
            'acceptSeq',
            'recordActivationFailed',
            'appendEventLog',
            { type: 'recordTransition', params: { from: 'Deferred', to: 'Failed' } },
          ],
        },
      },
    },

    Soaking: {
      on: {
        LocalProbeTopologyDeclared: {
          guard: 'seqIsNew',
          actions: ['acceptSeq', 'recordProbeTopology', 'emitOutbound'],
        },
        RemoteProbeTopologyDeclared: {
          guard: 'seqIsNew',
          actions: ['acceptSeq', 'recordProbeTopology', 'appendEventLog'],
        },
        LocalProbeObservedFirst: {
          guard: 'seqIsNew',
          actions: ['acceptSeq', 'recordProbeObservedFirst', 'emitOutbound'],
        },
        RemoteProbeObservedFirst: {
          guard: 'seqIsNew',
          actions: ['acceptSeq', 'recordProbeObservedFirst', 'appendEventLog'],
        },
        LocalProbeResult: {
          guard: 'seqIsNew',
          actions: ['acceptSeq', 'recordProbeResult', 'emitOutbound'],
        },
        RemoteProbeResult: {
          guard: 'seqIsNew',
          actions: ['acceptSeq', 'recordProbeResult', 'appendEventLog'],
        },
        LocalProbeFailureFirst: {
          guard: 'seqIsNew',
          actions: ['acceptSeq', 'recordProbeFailureFirst', 'emitOutbound'],
        },
        RemoteProbeFailureFirst: {
          guard: 'seqIsNew',
          actions: ['acceptSeq', 'recordProbeFailureFirst', 'appendEventLog'],
        },
        LocalSustainedFailureCrossed: [
          {
            guard: and(['seqIsNew', 'eventPolicyRollsBack', 'hasCcAtDispatch']),
            target: 'Failed',
            actions: [
              'acceptSeq',
              'recordSustainedFailure',
              'emitOutbound',
              { type: 'recordTransition', params: { from: 'Soaking', to: 'Failed' } },
              'fireRollback',
            ],
          },
          {
            guard: 'seqIsNew',
            target: 'Failed',
            actions: [
              'acceptSeq',
              'recordSustainedFailure',
              'emitOutbound',
              { type: 'recordTransition', params: { from: 'Soaking', to: 'Failed' } },
            ],
          },
        ],
        RemoteFailed: {
          guard: 'seqIsNew',
          target: 'Failed',
          actions: [
            'acceptSeq',
            'recordSustainedFailure',
            'appendEventLog',
            { type: 'recordTransition', params: { from: 'Soaking', to: 'Failed' } },
          ],
        },
        LocalConvergedReached: {
          guard: and(['seqIsNew', 'convergedInvariantsHold']),
          target: 'Converged',
          actions: [
            'acceptSeq',
            'recordConverged',
            'emitOutbound',
            { type: 'recordTransition', params: { from: 'Soaking', to: 'Converged' } },
          ],
        },
        RemoteConverged: {
          guard: and(['seqIsNew', 'convergedInvariantsHold']),
          target: 'Converged',
          actions: [
            'acceptSeq',
            'recordConverged',
            'appendEventLog',
            { type: 'recordTransition', params: { from: 'Soaking', to: 'Converged' } },
          ],
        },
      },
    },

    // Semi-terminal: only the rollback's outcome is accepted. Under `halt` nothing leaves; the
    // operator ships a new release and the new rollout supersedes this one.
    Failed: {
      on: {
        LocalRollbackCompleted: {
          guard: 'seqIsNew',
          target: 'Reverted',
          actions: [
            'acceptSeq',
            'recordRollback',
            'emitOutbound',
            { type: 'recordTransition', params: { from: 'Failed', to: 'Reverted' } },
          ],
        },
        RemoteRollbackComplete: {
          guard: 'seqIsNew',
          target: 'Reverted',
          actions: [
            'acceptSeq',
            'recordRollback',
            'appendEventLog',
            'insertQuarantine',
            { type: 'recordTransition', params: { from: 'Failed', to: 'Reverted' } },
          ],
        },
        LocalRollbackFailed: {
          guard: 'seqIsNew',
          actions: ['acceptSeq', 'recordRollbackFailure', 'emitOutbound'],
        },
        RemoteRollbackFailed: {
          guard: 'seqIsNew',
          actions: ['acceptSeq', 'recordRollbackFailure', 'appendEventLog'],
        },
      },
    },

    Converged: { type: 'final' },
    Reverted: { type: 'final' },
  },
});

export type HostRolloutMachine = typeof hostRolloutMachine;
