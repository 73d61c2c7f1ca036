// Heartbeat wire (spec §5.5): the agent's periodic `POST /v1/agent/heartbeat` and the CP's answer.
// snake_case on the wire, unlike the camelCase event payloads. The request is what the CP's
// heartbeat recovery (spec §7.4) works from; the response carries the bootstrap snapshots a
// (re)starting agent rehydrates from (spec §6.16).
import { z } from 'zod';
import {
  absentAsNull,
  closureSchema,
  hostnameSchema,
  rolloutIdSchema,
  seqSchema,
  timestampSchema,
} from './common.ts';
import { type FleetIssue, issuesFromZod } from './fleet/index.ts';
import { encodeWireSnapshot, hostRolloutWireSnapshotSchema } from './hostRolloutSnapshot.ts';

/**
 * The agent's highest seq per rollout it holds (RFC-0005, spec §10 G13). Lets the CP compute drift
 * for every rollout, not only the one named by `rollout_id` (which v0.2 agents never set).
 */
export const lastEventSeqByRolloutSchema = z.record(rolloutIdSchema, seqSchema);

export const heartbeatRequestSchema = z.object({
  hostname: hostnameSchema,
  /** v0.2 agents always send null: the "boot-recovery shape" that asks for bootstrap snapshots. */
  rollout_id: absentAsNull(rolloutIdSchema),
  /** Basename of `/run/current-system`; null when the link is missing (fresh install). */
  current_closure: absentAsNull(closureSchema),
  /** The agent's clock; echoed back as `received_at`. */
  at: timestampSchema,
  // RFC-0005 fields the v0.2 agent never sent; optional so old agents stay valid (spec §5.5).
  last_event_seq_by_rollout: absentAsNull(lastEventSeqByRolloutSchema),
  /** Seconds since the host booted. */
  uptime_secs: absentAsNull(z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER)),
  agent_version: absentAsNull(z.string().min(1).max(256)),
});
export type HeartbeatRequest = z.output<typeof heartbeatRequestSchema>;
/** What an agent may put on the wire: optionals absent or null. */
export type HeartbeatRequestInput = z.input<typeof heartbeatRequestSchema>;

export const heartbeatResponseSchema = z.object({
  /** Echoes the request's `at` (the agent's clock), not the CP's; agents tolerate it missing. */
  received_at: absentAsNull(timestampSchema),
  /** Omitted when empty; a missing field reads as no snapshots (spec §6.15). */
  bootstrap_rollouts: z
    .array(hostRolloutWireSnapshotSchema)
    .nullish()
    .transform((v) => v ?? []),
  /**
   * Beyond v0.2 (G13): the highest seq the CP applied, per rollout whose agent-reported seq is ahead
   * of it; the agent re-sends that rollout's events with a greater seq. Omitted when empty.
   */
  replay_from_by_rollout: lastEventSeqByRolloutSchema.nullish().transform((v) => v ?? {}),
});
export type HeartbeatResponse = z.output<typeof heartbeatResponseSchema>;

/** `X-Nixfleet-Replay-From: <u64>`: the highest seq the CP applied for the heartbeat's rollout (§7.5). */
export const REPLAY_FROM_HEADER = 'X-Nixfleet-Replay-From';

export type HeartbeatParseResult<T> = { ok: true; value: T } | { ok: false; issues: FleetIssue[] };

function parseWith<S extends z.ZodType>(schema: S, raw: unknown): HeartbeatParseResult<z.output<S>> {
  // reportInput lets a missing field read "is required" rather than zod's generic type message.
  const parsed = schema.safeParse(raw, { reportInput: true });
  return parsed.success
    ? { ok: true, value: parsed.data }
    : { ok: false, issues: issuesFromZod(parsed.error) };
}

/** Unknown fields are ignored (a newer agent may send more); refusals name each field path. */
export const parseHeartbeatRequest = (raw: unknown): HeartbeatParseResult<HeartbeatRequest> =>
  parseWith(heartbeatRequestSchema, raw);

export const parseHeartbeatResponse = (raw: unknown): HeartbeatParseResult<HeartbeatResponse> =>
  parseWith(heartbeatResponseSchema, raw);

/** The response body as sent: null fields and empty collections omitted (spec §5.5). */
export function encodeHeartbeatResponse(r: HeartbeatResponse): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  if (r.received_at !== null) body.received_at = r.received_at;
  if (r.bootstrap_rollouts.length > 0) body.bootstrap_rollouts = r.bootstrap_rollouts.map(encodeWireSnapshot);
  if (Object.keys(r.replay_from_by_rollout).length > 0)
    body.replay_from_by_rollout = r.replay_from_by_rollout;
  return body;
}

/**
 * Reads the replay header as the agent does (spec §6.15): anything but a decimal u64 is no header.
 * Leading zeros, signs and blanks are refused rather than guessed at.
 */
export function parseReplayFromHeader(value: string | null | undefined): number | null {
  if (value === null || value === undefined || !/^(0|[1-9][0-9]*)$/.test(value)) return null;
  const n = Number(value);
  return Number.isSafeInteger(n) ? n : null;
}
