import { z } from 'zod';

/**
 * An optional wire field: readers accept it absent or `null` and always see `null` (spec §0.4), so
 * code downstream has one "missing" value to handle.
 */
export const absentAsNull = <T extends z.ZodType>(schema: T) => schema.nullish().transform((v) => v ?? null);

/** RFC 3339 timestamp; `Z` or an explicit offset, fractional seconds allowed (spec §0.4). */
export const timestampSchema = z.iso.datetime({ offset: true });
export type Timestamp = z.infer<typeof timestampSchema>;

/** Per-(host, rollout) event sequence number; 0 on a fresh record, first event is 1 (spec §2.9). */
export const seqSchema = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);

/** Basename of a Nix store path, e.g. `abc…xyz-nixos-system-web-01-26.05`. */
export const closureSchema = z.string().min(1).max(4096);

export const hostnameSchema = z
  .string()
  .min(1)
  .max(253)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'hostname may hold letters, digits, ".", "_" and "-"');

export const channelSchema = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'channel names may hold letters, digits, ".", "_" and "-"');

/**
 * `<channel>@<channelRef>`, split on the first `@` (spec §1.8). It names files in the release
 * directory, so path separators are refused outright.
 */
export const rolloutIdSchema = z
  .string()
  .min(3)
  .max(256)
  .regex(
    /^[A-Za-z0-9][A-Za-z0-9._-]*@[^/\\\s]+$/,
    'rollout id must be "<channel>@<ref>" without path separators',
  );

export const HOST_STATES = [
  'Pending',
  'Activating',
  'Deferred',
  'Soaking',
  'Converged',
  'Failed',
  'Reverted',
] as const;
export const hostStateSchema = z.enum(HOST_STATES);
export type HostState = z.infer<typeof hostStateSchema>;

export const onHealthFailureSchema = z.enum(['halt', 'rollback-and-halt']);
export type OnHealthFailure = z.infer<typeof onHealthFailureSchema>;

export const probeModeSchema = z.enum(['enforce', 'observe', 'disabled']);
export type ProbeMode = z.infer<typeof probeModeSchema>;

export const probeStatusSchema = z.enum(['pass', 'fail']);
export type ProbeStatus = z.infer<typeof probeStatusSchema>;
