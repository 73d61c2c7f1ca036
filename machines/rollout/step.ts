// Pure step for the rollout chart, the rollout twin of hostRollout/step.ts.
import { initialTransition, type SnapshotFrom, transition } from 'xstate';
import type { RolloutEffect, RolloutEvent, RolloutState } from '../../proto/rolloutEvent.ts';
import { emittedEffects } from '../common/actions.ts';
import type { RolloutInput } from './context.ts';
import { rolloutMachine } from './rollout.machine.ts';

export type RolloutSnapshot = SnapshotFrom<typeof rolloutMachine>;

export type RolloutTransitionError =
  | { code: 'IllegalForState'; from: RolloutState; event: RolloutEvent['type']; rolloutId: string }
  | { code: 'Unimplemented'; from: RolloutState; event: RolloutEvent['type']; rolloutId: string }
  | { code: 'WrongRollout'; event: RolloutEvent['type']; addressedTo: string; rolloutId: string };

export type RolloutStepResult =
  | { ok: true; snapshot: RolloutSnapshot; effects: RolloutEffect[] }
  | { ok: false; error: RolloutTransitionError };

export function rolloutStateOf(snapshot: RolloutSnapshot): RolloutState {
  return snapshot.value as RolloutState;
}

export function createRollout(input: RolloutInput): RolloutSnapshot {
  const [snapshot] = initialTransition(rolloutMachine, input);
  return snapshot;
}

export function stepRollout(snapshot: RolloutSnapshot, event: RolloutEvent): RolloutStepResult {
  // SuccessorOpened is addressed to the rollout it supersedes; every other event names its own.
  const addressedTo = event.type === 'SuccessorOpened' ? event.supersededRolloutId : event.rolloutId;
  if (addressedTo !== snapshot.context.rolloutId) {
    return {
      ok: false,
      error: { code: 'WrongRollout', event: event.type, addressedTo, rolloutId: snapshot.context.rolloutId },
    };
  }
  const from = rolloutStateOf(snapshot);
  const node = rolloutMachine.states[from];
  if (node?.transitions.has(event.type) !== true) {
    const unimplemented = node?.meta?.unimplemented?.includes(event.type) === true;
    const code = unimplemented ? 'Unimplemented' : 'IllegalForState';
    return { ok: false, error: { code, from, event: event.type, rolloutId: snapshot.context.rolloutId } };
  }
  const [next, actions] = transition(rolloutMachine, snapshot, event);
  return { ok: true, snapshot: next, effects: emittedEffects<RolloutEffect>(actions) };
}
