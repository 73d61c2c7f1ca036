import { type RolloutState, rolloutStateSchema } from '../../proto/rolloutEvent.ts';
import { createSnapshotCodec, type Persisted, type RestoreResult } from '../common/persisted.ts';
import { type RolloutContext, rolloutContextSchema } from './context.ts';
import { ROLLOUT_MACHINE_ID, ROLLOUT_MACHINE_VERSION, rolloutMachine } from './rollout.machine.ts';
import { type RolloutSnapshot, rolloutStateOf } from './step.ts';

export type PersistedRollout = Persisted<typeof ROLLOUT_MACHINE_ID, RolloutState, RolloutContext>;

const codec = createSnapshotCodec({
  machineId: ROLLOUT_MACHINE_ID,
  machineVersion: ROLLOUT_MACHINE_VERSION,
  resolve: (value, context) => rolloutMachine.resolveState({ value, context }),
  stateSchema: rolloutStateSchema,
  contextSchema: rolloutContextSchema,
  read: (s: RolloutSnapshot) => ({ value: rolloutStateOf(s), context: s.context, done: s.status === 'done' }),
});

export const persistRollout = (snapshot: RolloutSnapshot): PersistedRollout => codec.persist(snapshot);
export const restoreRollout = (raw: unknown): RestoreResult<RolloutSnapshot> => codec.restore(raw);
