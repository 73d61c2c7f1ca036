// The host-rollout record (spec §2.2): the chart's context, the persisted actor state on both
// sides, and the source of the wire snapshot handed to a restarting agent.
import { z } from 'zod';
import { declaredProbeSchema } from '../../proto/agentEvent.ts';
import {
  channelSchema,
  closureSchema,
  hostnameSchema,
  onHealthFailureSchema,
  probeModeSchema,
  probeStatusSchema,
  rolloutIdSchema,
  seqSchema,
  timestampSchema,
} from '../../proto/common.ts';

const ts = timestampSchema.nullable();

export const probeRecordSchema = z.object({
  status: probeStatusSchema,
  mode: probeModeSchema,
  lastObservedAt: timestampSchema,
  lastPassAt: ts,
  failureReason: z.string().nullable(),
  /**
   * Start of the probe's current failure streak, cleared by a pass. Beyond the original, whose
   * `probeFailureFirstAt` is never cleared (spec §10 G10): sustained failure is measured per streak.
   */
  failingSince: ts,
});
export type ProbeRecord = z.infer<typeof probeRecordSchema>;

export const hostRolloutContextSchema = z.object({
  rolloutId: rolloutIdSchema,
  hostname: hostnameSchema,
  channel: channelSchema,
  targetClosure: closureSchema,
  /** Rollback target. `""` is a real value: the agent found no /run/current-system. */
  currentClosureAtDispatch: z.string().nullable(),
  currentClosure: z.string().nullable(),
  revertedTo: z.string().nullable(),
  dispatchedAt: timestampSchema,
  dispatchAckedAt: ts,
  activationStartedAt: ts,
  activationCompletedAt: ts,
  activationFailedAt: ts,
  deferredAt: ts,
  deferredComponent: z.string().nullable(),
  probeObservedFirstAt: ts,
  probeFailureFirstAt: ts,
  soakDueAt: ts,
  convergedAt: ts,
  failedAt: ts,
  policyApplied: onHealthFailureSchema.nullable(),
  revertedAt: ts,
  rollbackFailedAt: ts,
  rollbackFailure: z.string().nullable(),
  probes: z.record(z.string(), probeRecordSchema),
  /** Probe topology declared after activation; convergence waits for each enforce probe (G9). */
  declaredProbes: z.array(declaredProbeSchema).nullable(),
  lastEventSeq: seqSchema,
  /** The host's wave in the rollout (`hostSet.waveIndex`); informational for the chart. */
  wave: z.number().int().nonnegative(),
  /** The rollout policy's `onHealthFailure`, fixed when the record is created (spec §2 `policy`). */
  onHealthFailure: onHealthFailureSchema,
  /**
   * When set, `soakDueAt` is re-anchored at activation completion + soakMinutes, so a host
   * dispatched late still soaks in full (spec §10 G8). `null` keeps the original's rollout-open
   * anchor.
   */
  soakMinutes: z.number().nonnegative().nullable(),
});
export type HostRolloutContext = z.infer<typeof hostRolloutContextSchema>;

/** What creating a record needs (`new_pending`, spec §2.2) plus the policy bits the chart reads. */
export const hostRolloutInputSchema = z.object({
  rolloutId: rolloutIdSchema,
  hostname: hostnameSchema,
  channel: channelSchema,
  targetClosure: closureSchema,
  dispatchedAt: timestampSchema,
  soakDueAt: ts.default(null),
  wave: z.number().int().nonnegative().default(0),
  onHealthFailure: onHealthFailureSchema.default('halt'),
  soakMinutes: z.number().nonnegative().nullable().default(null),
});
export type HostRolloutInput = z.input<typeof hostRolloutInputSchema>;

export function newPendingRecord(input: HostRolloutInput): HostRolloutContext {
  const i = hostRolloutInputSchema.parse(input);
  return {
    rolloutId: i.rolloutId,
    hostname: i.hostname,
    channel: i.channel,
    targetClosure: i.targetClosure,
    currentClosureAtDispatch: null,
    currentClosure: null,
    revertedTo: null,
    dispatchedAt: i.dispatchedAt,
    dispatchAckedAt: null,
    activationStartedAt: null,
    activationCompletedAt: null,
    activationFailedAt: null,
    deferredAt: null,
    deferredComponent: null,
    probeObservedFirstAt: null,
    probeFailureFirstAt: null,
    soakDueAt: i.soakDueAt,
    convergedAt: null,
    failedAt: null,
    policyApplied: null,
    revertedAt: null,
    rollbackFailedAt: null,
    rollbackFailure: null,
    probes: {},
    declaredProbes: null,
    lastEventSeq: 0,
    wave: i.wave,
    onHealthFailure: i.onHealthFailure,
    soakMinutes: i.soakMinutes,
  };
}
