// `HostRolloutSnapshot` (spec §5.5): what the CP hands a (re)starting agent in heartbeat replies as
// `bootstrap_rollouts`. camelCase; readers accept absent or null optionals.
import { z } from 'zod';
import {
  absentAsNull,
  channelSchema,
  closureSchema,
  hostnameSchema,
  hostStateSchema,
  rolloutIdSchema,
  seqSchema,
  timestampSchema,
} from './common.ts';

export const hostRolloutWireSnapshotSchema = z.object({
  rolloutId: rolloutIdSchema,
  hostname: hostnameSchema,
  channel: channelSchema,
  state: hostStateSchema,
  targetClosure: closureSchema,
  currentClosureAtDispatch: absentAsNull(z.string()),
  currentClosure: absentAsNull(z.string()),
  dispatchedAt: timestampSchema,
  dispatchAckedAt: absentAsNull(timestampSchema),
  activationStartedAt: absentAsNull(timestampSchema),
  activationCompletedAt: absentAsNull(timestampSchema),
  soakDueAt: absentAsNull(timestampSchema),
  lastEventSeq: seqSchema,
});
export type HostRolloutWireSnapshot = z.infer<typeof hostRolloutWireSnapshotSchema>;

/** Null fields are omitted on the wire (spec §5.5). */
export function encodeWireSnapshot(s: HostRolloutWireSnapshot): Record<string, unknown> {
  return Object.fromEntries(Object.entries(s).filter(([, v]) => v !== null));
}
