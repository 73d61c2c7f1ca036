// The persisted host-rollout actor: the JSONB the CP stores and the file the agent writes.
import { type HostState, hostStateSchema } from '../../proto/common.ts';
import type { HostRolloutWireSnapshot } from '../../proto/hostRolloutSnapshot.ts';
import { createSnapshotCodec, type Persisted, type RestoreResult } from '../common/persisted.ts';
import { type HostRolloutContext, hostRolloutContextSchema } from './context.ts';
import {
  HOST_ROLLOUT_MACHINE_ID,
  HOST_ROLLOUT_MACHINE_VERSION,
  hostRolloutMachine,
} from './hostRollout.machine.ts';
import { type HostRolloutSnapshot, hostStateOf } from './step.ts';

export type PersistedHostRollout = Persisted<typeof HOST_ROLLOUT_MACHINE_ID, HostState, HostRolloutContext>;

const codec = createSnapshotCodec({
  machineId: HOST_ROLLOUT_MACHINE_ID,
  machineVersion: HOST_ROLLOUT_MACHINE_VERSION,
  resolve: (value, context) => hostRolloutMachine.resolveState({ value, context }),
  stateSchema: hostStateSchema,
  contextSchema: hostRolloutContextSchema,
  read: (s: HostRolloutSnapshot) => ({
    value: hostStateOf(s),
    context: s.context,
    done: s.status === 'done',
  }),
});

export const persistHostRollout = (snapshot: HostRolloutSnapshot): PersistedHostRollout =>
  codec.persist(snapshot);
export const restoreHostRollout = (raw: unknown): RestoreResult<HostRolloutSnapshot> => codec.restore(raw);

/** The §5.5 wire snapshot of a record, for bootstrap replies. */
export function toWireSnapshot(snapshot: HostRolloutSnapshot): HostRolloutWireSnapshot {
  const c = snapshot.context;
  return {
    rolloutId: c.rolloutId,
    hostname: c.hostname,
    channel: c.channel,
    state: hostStateOf(snapshot),
    targetClosure: c.targetClosure,
    currentClosureAtDispatch: c.currentClosureAtDispatch,
    currentClosure: c.currentClosure,
    dispatchedAt: c.dispatchedAt,
    dispatchAckedAt: c.dispatchAckedAt,
    activationStartedAt: c.activationStartedAt,
    activationCompletedAt: c.activationCompletedAt,
    soakDueAt: c.soakDueAt,
    lastEventSeq: c.lastEventSeq,
  };
}
