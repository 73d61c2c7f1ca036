// Rollout lifecycle events and effects (spec §3.3-3.4). They travel through the CP's event log
// (`rollout_event` rows) and its outbox, so they have wire schemas like the host events.
import { z } from 'zod';
import {
  channelSchema,
  hostnameSchema,
  hostStateSchema,
  rolloutIdSchema,
  timestampSchema,
} from './common.ts';

export const ROLLOUT_STATES = [
  'Opening',
  'Active',
  'Converging',
  'Terminal',
  'Failed',
  'Reverted',
  'Superseded',
  'Pruned',
] as const;
export const rolloutStateSchema = z.enum(ROLLOUT_STATES);
export type RolloutState = z.infer<typeof rolloutStateSchema>;

const wave = z.number().int().nonnegative();

export const rolloutEventSchema = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('RolloutOpened'),
    rolloutId: rolloutIdSchema,
    channel: channelSchema,
    targetRef: z.string().min(1),
    at: timestampSchema,
  }),
  z.object({
    type: z.literal('HostJoined'),
    rolloutId: rolloutIdSchema,
    hostId: hostnameSchema,
    wave,
    at: timestampSchema,
  }),
  z.object({
    type: z.literal('HostStateChanged'),
    rolloutId: rolloutIdSchema,
    hostId: hostnameSchema,
    from: hostStateSchema,
    to: hostStateSchema,
    at: timestampSchema,
  }),
  z.object({
    type: z.literal('WaveAdvanced'),
    rolloutId: rolloutIdSchema,
    fromWave: wave,
    toWave: wave,
    at: timestampSchema,
  }),
  z.object({ type: z.literal('RolloutTerminal'), rolloutId: rolloutIdSchema, at: timestampSchema }),
  /** Addressed to the superseded rollout's actor. */
  z.object({
    type: z.literal('SuccessorOpened'),
    supersededRolloutId: rolloutIdSchema,
    successorRolloutId: rolloutIdSchema,
    at: timestampSchema,
  }),
  z.object({ type: z.literal('RetentionExpired'), rolloutId: rolloutIdSchema, at: timestampSchema }),
  /** Reserved by the spec; the chart answers it with Unimplemented where the spec says so. */
  z.object({
    type: z.literal('OperatorClearance'),
    rolloutId: rolloutIdSchema,
    operator: z.string().min(1),
    reason: z.string(),
    at: timestampSchema,
  }),
]);
export type RolloutEvent = z.infer<typeof rolloutEventSchema>;
export type RolloutEventType = RolloutEvent['type'];
export const ROLLOUT_EVENT_TYPES = rolloutEventSchema.options.map(
  (o) => o.shape.type.value,
) as RolloutEventType[];

export const rolloutEffectSchema = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('RecordRolloutTransition'),
    rolloutId: rolloutIdSchema,
    from: rolloutStateSchema,
    to: rolloutStateSchema,
    at: timestampSchema,
  }),
  z.object({ type: z.literal('UpdateCurrentWave'), rolloutId: rolloutIdSchema, wave }),
]);
export type RolloutEffect = z.infer<typeof rolloutEffectSchema>;
