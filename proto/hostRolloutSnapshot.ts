// `HostRolloutSnapshot` (spec §5.5): what the CP hands a (re)starting agent in heartbeat replies as
// `bootstrap_rollouts`. camelCase; readers accept absent or null optionals.
import { z } from 'zod';
import {
  channelSchema,
  closureSchema,
  hostnameSchema,
  hostStateSchema,
  rolloutIdSchema,
  seqSchema,
  timestampSchema,
} from './common.ts';

const opt = <T extends z.ZodType>(s: T) => s.nullish().transform((v) => v ?? null);

export const hostRolloutWireSnapshotSchema = z.object({
  rolloutId: rolloutIdSchema,
  hostname: hostnameSchema,
  channel: channelSchema,
  state: hostStateSchema,
  targetClosure: closureSchema,
  currentClosureAtDispatch: opt(z.string()),
  currentClosure: opt(z.string()),
  dispatchedAt: timestampSchema,
  dispatchAckedAt: opt(timestampSchema),
  activationStartedAt: opt(timestampSchema),
  activationCompletedAt: opt(timestampSchema),
  soakDueAt: opt(timestampSchema),
  lastEventSeq: seqSchema,
});
export type HostRolloutWireSnapshot = z.infer<typeof hostRolloutWireSnapshotSchema>;

/** Null fields are omitted on the wire (spec §5.5). */
export function encodeWireSnapshot(s: HostRolloutWireSnapshot): Record<string, unknown> {
  return Object.fromEntries(Object.entries(s).filter(([, v]) => v !== null));
}
