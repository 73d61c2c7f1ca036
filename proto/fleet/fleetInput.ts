// The fleet description (`fleet.json`, contract §3) that `nixfleet release build` turns into a
// signed release. It stands where the original's `fleet.nix` + mkFleet stood, with the field names
// of `fleet.resolved.json` (spec §1.2). Objects are strict: a misspelt key in the operator's intent
// is an error naming it, not a silently ignored setting.
import { z } from 'zod';
import { hostnameSchema, onHealthFailureSchema, probeModeSchema, timestampSchema } from '../common.ts';
import { parseDuration } from '../duration.ts';
import { parseSshPublicKey } from '../sshKey.ts';

/** Channel names become rollout ids and file names; the CP routes accept only `[a-z0-9_-]` (§1.8). */
export const channelNameSchema = z
  .string()
  .regex(/^[a-z0-9_-]{1,64}$/, 'channel names may hold only lowercase letters, digits, "_" and "-"');

const nameSchema = z.string().min(1).max(128);

/** A duration string (`"30s"`, contract §2) or a plain number of seconds, read as milliseconds. */
export const durationMsSchema = z.union([z.number().int().nonnegative(), z.string()]).transform((v, ctx) => {
  if (typeof v === 'number') return v * 1000;
  const parsed = parseDuration(v);
  if (parsed.ok) return parsed.ms;
  ctx.addIssue({ code: 'custom', message: parsed.error.message });
  return z.NEVER;
});

export interface InputSelector {
  tags?: string[] | undefined;
  tagsAny?: string[] | undefined;
  hosts?: string[] | undefined;
  channel?: string | null | undefined;
  all?: boolean | null | undefined;
  /** Every selector listed must match (spec §1.4 #13); ignored when `not` is set. */
  and?: InputSelector[] | null | undefined;
  /** Matches what this selector does not; wins over `and` and the flat fields. */
  not?: InputSelector | null | undefined;
}

export const inputSelectorSchema: z.ZodType<InputSelector> = z.lazy(() =>
  z.strictObject({
    tags: z.array(nameSchema).optional(),
    tagsAny: z.array(nameSchema).optional(),
    hosts: z.array(z.string()).optional(),
    channel: z.string().nullish(),
    all: z.boolean().nullish(),
    and: z.array(inputSelectorSchema).nullish(),
    not: inputSelectorSchema.nullish(),
  }),
);

// Nix store hashes use base32 without e, o, u and t.
const STORE_BASENAME = /^[0-9a-df-np-sv-z]{32}-[A-Za-z0-9+\-._?=]+$/;

/** A host toplevel as `/nix/store/<hash>-<name>` or its basename; read as the basename (§0.4). */
export const closureInputSchema = z.string().transform((v, ctx) => {
  const basename = v.startsWith('/nix/store/') ? v.slice('/nix/store/'.length) : v;
  if (!STORE_BASENAME.test(basename) || basename.startsWith('.')) {
    ctx.addIssue({
      code: 'custom',
      message: `${JSON.stringify(v)} is not a Nix store path (/nix/store/<32-char hash>-<name>) or its basename`,
    });
    return z.NEVER;
  }
  return basename;
});

export const pinInputSchema = z.strictObject({
  commit: z.string().min(1),
  reason: z.string().nullish(),
  expiresAt: timestampSchema.nullish(),
});
export type PinInput = z.infer<typeof pinInputSchema>;

export const hostInputSchema = z.strictObject({
  name: hostnameSchema,
  closure: closureInputSchema.nullish(),
  /** Alias of `closure`, the name the resolved fleet uses. */
  closureHash: closureInputSchema.nullish(),
  tags: z.array(nameSchema).default([]),
  pubkey: z
    .string()
    .refine((k) => parseSshPublicKey(k).ok, 'expected an OpenSSH ed25519 public key ("ssh-ed25519 AAAA…")')
    .nullish(),
  platform: z.string().min(1).optional(),
  /** Alias of `platform`, as mkFleet writes it (spec §1.2). */
  system: z.string().min(1).optional(),
  /** Explicit channel; otherwise the one channel whose `selector` matches the host. */
  channel: z.string().optional(),
  pin: pinInputSchema.optional(),
});
export type HostInput = z.infer<typeof hostInputSchema>;

export const channelInputSchema = z.strictObject({
  rolloutPolicy: z.string().min(1),
  /** Hosts without an explicit `channel` join the channel whose selector matches them. */
  selector: inputSelectorSchema.optional(),
  /** Minutes; informational for CP and agents. */
  reconcileIntervalMinutes: z.number().int().positive().default(30),
  /** Minutes; maximum accepted age of the channel's signed artifacts. Must be ≥ 2 × signing interval. */
  freshnessWindow: z.number().int().positive().default(1440),
  /** Minutes; how often CI re-signs. */
  signingIntervalMinutes: z.number().int().positive().default(60),
  pin: pinInputSchema.optional(),
  // v0.1 static compliance block (spec §1.2): accepted and ignored, runtime compliance is probes.
  compliance: z.unknown().optional(),
});
export type ChannelInput = z.infer<typeof channelInputSchema>;

export const probeInputSchema = z.strictObject({
  name: nameSchema,
  command: z.union([z.string(), z.array(z.string())]),
  interval: durationMsSchema.default(30_000),
  timeout: durationMsSchema.default(10_000),
  mode: probeModeSchema.default('enforce'),
});
export type ProbeInput = z.infer<typeof probeInputSchema>;

export const policyWaveInputSchema = z.strictObject({
  selector: inputSelectorSchema,
  /** Minutes a wave's hosts must stay healthy before the next wave may start. */
  soakMinutes: z.number().int().nonnegative().default(0),
});

export const rolloutPolicyInputSchema = z.strictObject({
  strategy: z.enum(['canary', 'all-at-once', 'staged']).default('staged'),
  waves: z.array(policyWaveInputSchema).default([]),
  healthGate: z.record(z.string(), z.unknown()).default({}),
  onHealthFailure: onHealthFailureSchema.default('rollback-and-halt'),
  maxInFlight: z.number().int().positive().nullish(),
  maxInFlightPct: z.number().int().min(1).max(100).nullish(),
  /** How long an enforce probe must keep failing before the host fails (`"2m"` or seconds). */
  sustainedFailure: durationMsSchema.nullish(),
  probes: z.array(probeInputSchema).default([]),
});
export type RolloutPolicyInput = z.infer<typeof rolloutPolicyInputSchema>;

export const budgetInputSchema = z.strictObject({
  selector: inputSelectorSchema,
  maxInFlight: z.number().int().positive().nullish(),
  maxInFlightPct: z.number().int().min(1).max(100).nullish(),
});

export const hostEdgeInputSchema = z.strictObject({
  gated: z.string().min(1),
  gates: z.string().min(1),
  reason: z.string().nullish(),
});

export const channelEdgeInputSchema = z.strictObject({
  gates: z.string().min(1).optional(),
  gated: z.string().min(1).optional(),
  /** Deprecated spelling of `gates`; one edge may not mix both spellings (spec §1.4 #5). */
  before: z.string().min(1).optional(),
  /** Deprecated spelling of `gated`. */
  after: z.string().min(1).optional(),
  reason: z.string().nullish(),
});

export const fleetInputSchema = z.strictObject({
  hosts: z.array(hostInputSchema),
  channels: z.record(channelNameSchema, channelInputSchema),
  rolloutPolicies: z.record(nameSchema, rolloutPolicyInputSchema),
  /** Tag-level settings; today only a pin (host pin > tag pin > channel pin). */
  tags: z.record(nameSchema, z.strictObject({ pin: pinInputSchema.optional() })).default({}),
  disruptionBudgets: z.array(budgetInputSchema).default([]),
  channelEdges: z.array(channelEdgeInputSchema).default([]),
  edges: z.array(hostEdgeInputSchema).default([]),
});
export type FleetInput = z.infer<typeof fleetInputSchema>;
