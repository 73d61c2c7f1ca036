import { z } from 'zod';
import { channelSchema, rolloutIdSchema, timestampSchema } from '../../proto/common.ts';

export const rolloutContextSchema = z.object({
  rolloutId: rolloutIdSchema,
  channel: channelSchema,
  targetRef: z.string().min(1),
  /** Monotonic; owned by the chart through WaveAdvanced (spec §10 G18). */
  currentWave: z.number().int().nonnegative(),
  openedAt: timestampSchema,
  terminalAt: timestampSchema.nullable(),
  supersededAt: timestampSchema.nullable(),
  supersededBy: z.string().nullable(),
  /**
   * Set on reaching Terminal, Failed or Reverted. The original stamped only Terminal, so failed
   * rollouts were never pruned (spec §10 G15).
   */
  finishedAt: timestampSchema.nullable(),
});
export type RolloutContext = z.infer<typeof rolloutContextSchema>;

export const rolloutInputSchema = z.object({
  rolloutId: rolloutIdSchema,
  channel: channelSchema,
  targetRef: z.string().min(1),
  openedAt: timestampSchema,
});
export type RolloutInput = z.infer<typeof rolloutInputSchema>;

export function newRolloutRecord(input: RolloutInput): RolloutContext {
  const i = rolloutInputSchema.parse(input);
  return {
    ...i,
    currentWave: 0,
    terminalAt: null,
    supersededAt: null,
    supersededBy: null,
    finishedAt: null,
  };
}
