// The two kinds of actor the runtime hosts, described once so the registry, the stores and the
// inspector treat them alike. Each kind is a thin adapter over its chart's pure step function.
import {
  createHostRollout,
  createRollout,
  HOST_ROLLOUT_MACHINE_ID,
  HOST_ROLLOUT_MACHINE_VERSION,
  type HostEffect,
  type HostRolloutEvent,
  type HostRolloutInput,
  type HostRolloutSnapshot,
  type HostTransitionError,
  hostStateOf,
  type PersistedHostRollout,
  type PersistedRollout,
  persistHostRollout,
  persistRollout,
  type RestoreResult,
  ROLLOUT_MACHINE_ID,
  ROLLOUT_MACHINE_VERSION,
  type RolloutInput,
  type RolloutSnapshot,
  type RolloutTransitionError,
  restoreHostRollout,
  restoreRollout,
  rolloutStateOf,
  stepHostRollout,
  stepRollout,
} from '../machines/index.ts';
import type { RolloutEffect, RolloutEvent } from '../proto/index.ts';

export type ActorKindName = 'hostRollout' | 'rollout';

export interface ActorKind<Name extends ActorKindName, S, E extends { type: string }, Fx, Err, In, P> {
  readonly name: Name;
  readonly machineId: string;
  readonly machineVersion: number;
  keyOf(input: In): string;
  create(input: In): S;
  step(snapshot: S, event: E): { ok: true; snapshot: S; effects: Fx[] } | { ok: false; error: Err };
  persist(snapshot: S): P;
  restore(raw: unknown): RestoreResult<S>;
  stateOf(snapshot: S): string;
  isDone(snapshot: S): boolean;
  /**
   * The actor's version after an accepted step, used to fence writes (`WHERE last_event_seq =
   * previous`). Host records already carry a strictly increasing seq; rollouts count their steps.
   */
  nextVersion(previous: number, next: S): number;
}

export const hostRolloutKey = (rolloutId: string, hostname: string): string =>
  `host:${rolloutId}/${hostname}`;
export const rolloutKey = (rolloutId: string): string => `rollout:${rolloutId}`;

export type HostRolloutKind = ActorKind<
  'hostRollout',
  HostRolloutSnapshot,
  HostRolloutEvent,
  HostEffect,
  HostTransitionError,
  HostRolloutInput,
  PersistedHostRollout
>;

export const hostRolloutKind: HostRolloutKind = {
  name: 'hostRollout',
  machineId: HOST_ROLLOUT_MACHINE_ID,
  machineVersion: HOST_ROLLOUT_MACHINE_VERSION,
  keyOf: (input) => hostRolloutKey(input.rolloutId, input.hostname),
  create: createHostRollout,
  step: stepHostRollout,
  persist: persistHostRollout,
  restore: restoreHostRollout,
  stateOf: hostStateOf,
  isDone: (s) => s.status === 'done',
  nextVersion: (_previous, next) => next.context.lastEventSeq,
};

export type RolloutKind = ActorKind<
  'rollout',
  RolloutSnapshot,
  RolloutEvent,
  RolloutEffect,
  RolloutTransitionError,
  RolloutInput,
  PersistedRollout
>;

export const rolloutKind: RolloutKind = {
  name: 'rollout',
  machineId: ROLLOUT_MACHINE_ID,
  machineVersion: ROLLOUT_MACHINE_VERSION,
  keyOf: (input) => rolloutKey(input.rolloutId),
  create: createRollout,
  step: stepRollout,
  persist: persistRollout,
  restore: restoreRollout,
  stateOf: rolloutStateOf,
  isDone: (s) => s.status === 'done',
  nextVersion: (previous) => previous + 1,
};

export type AnyActorKind = HostRolloutKind | RolloutKind;
