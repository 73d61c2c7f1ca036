// The one step function both sides call: `step(snapshot, event) → {snapshot, effects} | error`,
// built on XState's pure `transition()` so the agent, the CP and the tests run the same chart.
import { initialTransition, type SnapshotFrom, transition } from 'xstate';
import type { HostState } from '../../proto/common.ts';
import { emittedEffects } from '../common/actions.ts';
import type { HostRolloutInput } from './context.ts';
import type { HostEffect } from './effects.ts';
import type { HostTransitionError } from './errors.ts';
import type { HostRolloutEvent } from './events.ts';
import { hostRolloutMachine } from './hostRollout.machine.ts';
import { convergedInvariantViolation } from './records.ts';

export type HostRolloutSnapshot = SnapshotFrom<typeof hostRolloutMachine>;

export type HostStepResult =
  | { ok: true; snapshot: HostRolloutSnapshot; effects: HostEffect[] }
  | { ok: false; error: HostTransitionError };

export function hostStateOf(snapshot: HostRolloutSnapshot): HostState {
  return snapshot.value as HostState;
}

export function createHostRollout(input: HostRolloutInput): HostRolloutSnapshot {
  const [snapshot] = initialTransition(hostRolloutMachine, input);
  return snapshot;
}

export function stepHostRollout(snapshot: HostRolloutSnapshot, event: HostRolloutEvent): HostStepResult {
  const ctx = snapshot.context;
  const ids = { rolloutId: ctx.rolloutId, hostname: ctx.hostname };
  // The seq pre-check precedes the state check (spec §2.6): a replay into a terminal state is a
  // duplicate, not an illegal event. The chart guards every transition the same way.
  if (event.seq <= ctx.lastEventSeq) {
    return { ok: false, error: { code: 'SeqRegression', got: event.seq, last: ctx.lastEventSeq, ...ids } };
  }
  const [next, actions] = transition(hostRolloutMachine, snapshot, event);
  if (next !== snapshot) {
    return { ok: true, snapshot: next, effects: emittedEffects<HostEffect>(actions) };
  }
  const from = hostStateOf(snapshot);
  if (hostRolloutMachine.states[from]?.transitions.has(event.type) !== true) {
    return { ok: false, error: { code: 'IllegalForState', from, event: event.type, ...ids } };
  }
  // The state handles this event type but every guarded branch refused it. Past the seq check the
  // only such guard is the Converged invariants.
  if (event.type === 'LocalConvergedReached' || event.type === 'RemoteConverged') {
    const violation = convergedInvariantViolation(ctx, event);
    if (violation !== null) return { ok: false, error: { code: 'Invariant', ...violation, ...ids } };
  }
  throw new Error(`hostRollout: ${event.type} in ${from} was refused by a guard with no explanation`);
}

/** Effects to run after restoring a record from a snapshot (spec §2.11). */
export function rehydrationEffects(snapshot: HostRolloutSnapshot): HostEffect[] {
  return hostStateOf(snapshot) === 'Pending'
    ? []
    : [{ type: 'LocalResetProbeCache', rolloutId: snapshot.context.rolloutId }];
}
