// Per-channel rollout manifest, schemaVersion 1 (spec §1.7): the signed projection of one channel of
// a fleet at one CI commit, bound to that exact fleet by `fleetResolvedHash`.
import { z } from 'zod';
import { metaSchema } from './fleetResolved.ts';
import { selectorSchema } from './selector.ts';

const nullishInt = z
  .number()
  .int()
  .nonnegative()
  .nullish()
  .transform((v) => v ?? null);

export const hostWaveSchema = z.object({
  hostname: z.string().min(1),
  waveIndex: z.number().int().nonnegative(),
  targetClosure: z.string().min(1),
});
export type HostWave = z.infer<typeof hostWaveSchema>;

export const manifestBudgetSchema = z.object({
  selector: selectorSchema,
  /** The selector resolved against every fleet host at projection time, sorted. */
  hosts: z.array(z.string()),
  maxInFlight: nullishInt,
  maxInFlightPct: nullishInt,
});
export type ManifestBudget = z.infer<typeof manifestBudgetSchema>;

export const rolloutManifestSchema = z.object({
  schemaVersion: z.number().int(),
  displayName: z.string(),
  channel: z.string().min(1),
  channelRef: z.string(),
  fleetResolvedHash: z.string().regex(/^[0-9a-f]{64}$/, 'lowercase hex SHA-256'),
  hostSet: z.array(hostWaveSchema),
  healthGate: z
    .record(z.string(), z.unknown())
    .nullish()
    .transform((v) => v ?? {}),
  disruptionBudgets: z
    .array(manifestBudgetSchema)
    .nullish()
    .transform((v) => v ?? []),
  meta: metaSchema,
});
export type RolloutManifest = z.infer<typeof rolloutManifestSchema>;
