// Effects leave the chart as data (typed emitted events) and are executed by one applier per side:
// Local* by the agent, Remote* by the CP, RecordTransition by both (spec §2.5).
import { z } from 'zod';
import { agentEventSchema } from '../../proto/agentEvent.ts';
import {
  channelSchema,
  closureSchema,
  hostnameSchema,
  hostStateSchema,
  rolloutIdSchema,
  timestampSchema,
} from '../../proto/common.ts';

export const hostEffectSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('LocalFireSwitch'), rolloutId: rolloutIdSchema, target: closureSchema }),
  /** `closure` is the recorded pre-dispatch closure, never "the previous generation" (§10 G6). */
  z.object({ type: z.literal('LocalFireRollbackTo'), rolloutId: rolloutIdSchema, closure: z.string() }),
  z.object({ type: z.literal('LocalResetProbeCache'), rolloutId: rolloutIdSchema }),
  z.object({
    type: z.literal('LocalEmitEvent'),
    rolloutId: rolloutIdSchema,
    payload: agentEventSchema,
    durable: z.boolean(),
  }),
  z.object({
    type: z.literal('RemoteAppendEventLog'),
    host: hostnameSchema,
    rolloutId: rolloutIdSchema,
    payload: agentEventSchema,
  }),
  z.object({ type: z.literal('RemoteInsertQuarantine'), channel: channelSchema, closure: closureSchema }),
  z.object({
    type: z.literal('RecordTransition'),
    host: hostnameSchema,
    rolloutId: rolloutIdSchema,
    from: hostStateSchema,
    to: hostStateSchema,
    at: timestampSchema,
  }),
]);
export type HostEffect = z.infer<typeof hostEffectSchema>;
export type HostEffectType = HostEffect['type'];
