// Wire form of the agent's lifecycle events (spec §2.3-2.4, §5.4): a `kind` tag plus camelCase
// fields. The same payload feeds the agent's Local* chart event and the CP's Remote* mirror, so
// this file is the single definition of what each event carries.
import { z } from 'zod';
import {
  absentAsNull,
  closureSchema,
  hostnameSchema,
  onHealthFailureSchema,
  probeModeSchema,
  probeStatusSchema,
  rolloutIdSchema,
  seqSchema,
  timestampSchema,
} from './common.ts';

export const declaredProbeSchema = z.object({
  probeName: z.string().min(1),
  kind: z.string().min(1),
  mode: probeModeSchema,
});

export const subResultSchema = z.object({
  controlId: z.string().min(1),
  status: probeStatusSchema,
  framework: z.string(),
  article: absentAsNull(z.string()),
  effectiveMode: probeModeSchema.nullish().transform((m) => m ?? 'enforce'),
  overrideReason: absentAsNull(z.string()),
});
export type SubResult = z.infer<typeof subResultSchema>;

const seq = { seq: seqSchema };

export const agentEventSchemas = {
  DispatchAck: z.object({
    kind: z.literal('DispatchAck'),
    // The agent stores "" when /run/current-system is missing; CP-synthesised acks may not know it.
    currentClosureAtDispatch: absentAsNull(z.string()),
    receivedAt: timestampSchema,
    ...seq,
  }),
  ActivationStarted: z.object({
    kind: z.literal('ActivationStarted'),
    startedAt: timestampSchema,
    switchMethod: z.string(),
    ...seq,
  }),
  ActivationCompleted: z.object({
    kind: z.literal('ActivationCompleted'),
    observedCurrentClosure: closureSchema,
    exitCode: z.number().int(),
    completedAt: timestampSchema,
    ...seq,
  }),
  ActivationDeferred: z.object({
    kind: z.literal('ActivationDeferred'),
    component: z.string().min(1),
    deferredAt: timestampSchema,
    ...seq,
  }),
  ActivationFailed: z.object({
    kind: z.literal('ActivationFailed'),
    exitCode: z.number().int(),
    stderrTail: z.string(),
    failedAt: timestampSchema,
    ...seq,
  }),
  ProbeTopologyDeclared: z.object({
    kind: z.literal('ProbeTopologyDeclared'),
    probes: z.array(declaredProbeSchema),
    declaredAt: timestampSchema,
    ...seq,
  }),
  ProbeObservedFirst: z.object({
    kind: z.literal('ProbeObservedFirst'),
    probeName: z.string().min(1),
    mode: probeModeSchema,
    observedAt: timestampSchema,
    ...seq,
  }),
  ProbeResult: z.object({
    kind: z.literal('ProbeResult'),
    probeName: z.string().min(1),
    mode: probeModeSchema,
    status: probeStatusSchema,
    observedAt: timestampSchema,
    failureReason: absentAsNull(z.string()),
    subResults: absentAsNull(z.array(subResultSchema)),
    ...seq,
  }),
  ProbeFailureFirst: z.object({
    kind: z.literal('ProbeFailureFirst'),
    probeName: z.string().min(1),
    mode: probeModeSchema,
    firstFailedAt: timestampSchema,
    ...seq,
  }),
  Failed: z.object({
    kind: z.literal('Failed'),
    failedAt: timestampSchema,
    sustainedDurationSecs: z.number().int().nonnegative(),
    failingProbes: z.array(z.string()),
    policyApplied: onHealthFailureSchema,
    ...seq,
  }),
  Converged: z.object({
    kind: z.literal('Converged'),
    convergedAt: timestampSchema,
    currentClosure: closureSchema,
    ...seq,
  }),
  RollbackComplete: z.object({
    kind: z.literal('RollbackComplete'),
    revertedToClosure: closureSchema,
    exitCode: z.number().int(),
    completedAt: timestampSchema,
    ...seq,
  }),
  /**
   * Beyond the original (spec §10 G6): a failed rollback used to be reported as an
   * ActivationFailed, which is illegal in Failed and was lost. It now has its own event.
   */
  RollbackFailed: z.object({
    kind: z.literal('RollbackFailed'),
    closure: z.string(),
    exitCode: z.number().int(),
    stderrTail: z.string(),
    failedAt: timestampSchema,
    ...seq,
  }),
} as const;

export type AgentEventKind = keyof typeof agentEventSchemas;
export const AGENT_EVENT_KINDS = Object.keys(agentEventSchemas) as AgentEventKind[];

export const agentEventSchema = z.discriminatedUnion('kind', [
  agentEventSchemas.DispatchAck,
  agentEventSchemas.ActivationStarted,
  agentEventSchemas.ActivationCompleted,
  agentEventSchemas.ActivationDeferred,
  agentEventSchemas.ActivationFailed,
  agentEventSchemas.ProbeTopologyDeclared,
  agentEventSchemas.ProbeObservedFirst,
  agentEventSchemas.ProbeResult,
  agentEventSchemas.ProbeFailureFirst,
  agentEventSchemas.Failed,
  agentEventSchemas.Converged,
  agentEventSchemas.RollbackComplete,
  agentEventSchemas.RollbackFailed,
]);
export type AgentEvent = z.infer<typeof agentEventSchema>;
export type AgentEventOf<K extends AgentEventKind> = Extract<AgentEvent, { kind: K }>;

/**
 * Durable events are written to the agent's fsync'd outbound queue before any send; the others
 * (probe chatter) are best-effort and may be coalesced (spec §2.4).
 */
export const DURABLE_KINDS: ReadonlySet<AgentEventKind> = new Set<AgentEventKind>([
  'DispatchAck',
  'ActivationStarted',
  'ActivationCompleted',
  'ActivationDeferred',
  'ActivationFailed',
  'ProbeTopologyDeclared',
  'Failed',
  'Converged',
  'RollbackComplete',
  'RollbackFailed',
]);

/** `POST /v1/agent/events` body (spec §5.4). */
export const agentEventEnvelopeSchema = z.object({
  hostname: hostnameSchema,
  rolloutId: rolloutIdSchema,
  event: agentEventSchema,
  signature: z
    .string()
    .regex(/^[0-9a-f]*$/i)
    .nullish(),
});
export type AgentEventEnvelope = z.infer<typeof agentEventEnvelopeSchema>;
