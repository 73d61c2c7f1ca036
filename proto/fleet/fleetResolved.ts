// `fleet.resolved.json`, schemaVersion 1 (spec §1.2) as the control plane and agents read it.
// Readers treat absent and `null` alike and ignore unknown fields (spec §0.4, §1.3): the signature
// covers the received bytes, never this typed view, so dropping fields here loses nothing signed.
import { z } from 'zod';
import { absentAsNull, onHealthFailureSchema, timestampSchema } from '../common.ts';
import { selectorSchema } from './selector.ts';

const listOf = <T extends z.ZodType>(schema: T) =>
  z
    .array(schema)
    .nullish()
    .transform((v) => v ?? []);
const minutes = z.number().int().nonnegative();

export const SIGNATURE_ALGORITHMS = ['ed25519', 'ecdsa-p256'] as const;

/** Artifact metadata stamped by CI (spec §1.2 Meta). `signedAt` absent means "not signed" (§1.11). */
export const metaSchema = z.object({
  schemaVersion: absentAsNull(z.number().int()),
  signedAt: absentAsNull(timestampSchema),
  ciCommit: absentAsNull(z.string()),
  // Informational only: verifiers try every trusted key whatever this says (spec §1.11).
  signatureAlgorithm: absentAsNull(z.string()),
});
export type Meta = z.infer<typeof metaSchema>;

export const pinSchema = z.object({
  commit: z.string().min(1),
  reason: absentAsNull(z.string()),
  expiresAt: absentAsNull(timestampSchema),
});
export type Pin = z.infer<typeof pinSchema>;

export const fleetHostSchema = z
  .object({
    // The v0.2 struct says `platform`, every mkFleet evaluator writes `system` (spec §1.2).
    platform: absentAsNull(z.string()),
    system: absentAsNull(z.string()),
    tags: listOf(z.string()),
    channel: z.string().min(1),
    closureHash: absentAsNull(z.string().min(1)),
    pubkey: absentAsNull(z.string()),
    pin: absentAsNull(pinSchema),
  })
  .transform(({ system, platform, ...host }) => ({ ...host, platform: platform ?? system ?? null }));
export type FleetHost = z.infer<typeof fleetHostSchema>;

export const fleetChannelSchema = z.object({
  rolloutPolicy: z.string().min(1),
  reconcileIntervalMinutes: minutes,
  /** Minutes. The channel's maximum accepted artifact age (spec §1.2, §10.2 P5). */
  freshnessWindow: minutes,
  signingIntervalMinutes: minutes,
});
export type FleetChannel = z.infer<typeof fleetChannelSchema>;

export const policyWaveSchema = z.object({
  selector: selectorSchema,
  soakMinutes: minutes,
});
export type PolicyWave = z.infer<typeof policyWaveSchema>;

/** Verbatim operator attrset (spec §1.2); informational at runtime, probes carry health. */
export const healthGateSchema = z
  .record(z.string(), z.unknown())
  .nullish()
  .transform((v) => v ?? {});

/** A health probe in the agent's probes-file form (contract §2). */
export const probeDeclSchema = z.object({
  name: z.string().min(1),
  command: z.union([z.string().min(1), z.array(z.string()).min(1)]),
  interval: z.string().min(1),
  timeout: z.string().min(1),
  mode: z.enum(['enforce', 'observe', 'disabled']),
});
export type ProbeDecl = z.infer<typeof probeDeclSchema>;

export const rolloutPolicySchema = z.object({
  strategy: z.string(),
  waves: listOf(policyWaveSchema),
  healthGate: healthGateSchema,
  onHealthFailure: onHealthFailureSchema,
  // Beyond the Rust struct (contract §3 puts them on the policy): a per-rollout concurrency cap, the
  // sustained-failure threshold and the policy's probes. Older producers omit them.
  maxInFlight: absentAsNull(z.number().int().positive()),
  maxInFlightPct: absentAsNull(z.number().int().min(1).max(100)),
  sustainedFailureSecs: absentAsNull(z.number().int().positive()),
  probes: listOf(probeDeclSchema),
});
export type RolloutPolicy = z.infer<typeof rolloutPolicySchema>;

export const resolvedWaveSchema = z.object({
  hosts: z.array(z.string()),
  soakMinutes: minutes,
});
export type ResolvedWave = z.infer<typeof resolvedWaveSchema>;

export const hostEdgeSchema = z.object({
  gated: z.string().min(1),
  gates: z.string().min(1),
  reason: absentAsNull(z.string()),
});
export type HostEdge = z.infer<typeof hostEdgeSchema>;

/** Channel edge; readers also accept the deprecated `before` (= gates) / `after` (= gated). */
export const channelEdgeSchema = z
  .object({
    gates: z.string().min(1).optional(),
    gated: z.string().min(1).optional(),
    before: z.string().min(1).optional(),
    after: z.string().min(1).optional(),
    reason: absentAsNull(z.string()),
  })
  .transform((e, ctx) => {
    const gates = e.gates ?? e.before;
    const gated = e.gated ?? e.after;
    if (gates === undefined || gated === undefined) {
      ctx.addIssue({
        code: 'custom',
        message: 'a channel edge needs `gates` and `gated` (or `before`/`after`)',
      });
      return z.NEVER;
    }
    return { gates, gated, reason: e.reason };
  });
export type ChannelEdge = z.infer<typeof channelEdgeSchema>;

export const disruptionBudgetSchema = z.object({
  selector: selectorSchema,
  maxInFlight: absentAsNull(z.number().int().nonnegative()),
  maxInFlightPct: absentAsNull(z.number().int().min(0).max(100)),
});
export type DisruptionBudget = z.infer<typeof disruptionBudgetSchema>;

export const fleetResolvedSchema = z.object({
  // Typed as any integer: the verifier reports `schema-version-unsupported`, not a parse error.
  schemaVersion: z.number().int(),
  hosts: z.record(z.string(), fleetHostSchema),
  channels: z.record(z.string(), fleetChannelSchema),
  rolloutPolicies: z.record(z.string(), rolloutPolicySchema),
  waves: z
    .record(z.string(), z.array(resolvedWaveSchema))
    .nullish()
    .transform((v) => v ?? {}),
  edges: listOf(hostEdgeSchema),
  channelEdges: listOf(channelEdgeSchema),
  disruptionBudgets: listOf(disruptionBudgetSchema),
  meta: metaSchema,
});
export type FleetResolved = z.infer<typeof fleetResolvedSchema>;
