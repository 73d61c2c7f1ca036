// Builders for planner inputs: small fleets through the real schema, manifests through the real
// projection (so waves, hostSet and frozen budget host lists are what CI would sign), and rollouts
// and host records with defaults that keep each test down to what it is about.

import type {
  HostRecordSummary,
  OutstandingDispatch,
  OutstandingFailures,
  PlanAction,
  PlannerInput,
  QuarantineEntry,
  RolloutSummary,
} from '../../cp/planner/index.ts';
import {
  type FleetResolved,
  fleetResolvedSchema,
  type HostState,
  projectRolloutManifest,
  type RolloutManifest,
} from '../../proto/index.ts';

/** Fixed clock of the state-machine vectors (spec §9). */
export const T0 = '2026-05-16T01:00:00.000Z';
export const at = (seconds: number, base = T0): string =>
  new Date(Date.parse(base) + seconds * 1000).toISOString();

export interface HostSpec {
  readonly channel: string;
  readonly tags?: readonly string[];
  /** Default `<host>-closure`; null = not built yet (left out of manifests, spec §1.7). */
  readonly closure?: string | null;
}

export interface PolicySpec {
  readonly onHealthFailure?: 'halt' | 'rollback-and-halt';
  readonly maxInFlight?: number | null;
  readonly maxInFlightPct?: number | null;
  readonly soakMinutes?: number;
}

export interface BudgetSpec {
  readonly selector: {
    readonly tags?: readonly string[];
    readonly tagsAny?: readonly string[];
    readonly hosts?: readonly string[];
    readonly channel?: string;
    readonly all?: boolean;
  };
  readonly maxInFlight?: number | null;
  readonly maxInFlightPct?: number | null;
}

export interface FleetSpec {
  readonly hosts: Readonly<Record<string, HostSpec>>;
  /** Channel → policy name. Every channel a host names exists, on policy `default` unless listed. */
  readonly channels?: Readonly<Record<string, string>>;
  readonly policies?: Readonly<Record<string, PolicySpec>>;
  /** Channel → resolved waves (host lists). */
  readonly waves?: Readonly<Record<string, readonly (readonly string[])[]>>;
  readonly edges?: readonly { readonly gated: string; readonly gates: string }[];
  readonly channelEdges?: readonly { readonly gates: string; readonly gated: string }[];
  readonly budgets?: readonly BudgetSpec[];
  /** Raw JSON overrides merged last, e.g. legacy field names. */
  readonly raw?: Readonly<Record<string, unknown>>;
}

/** A `fleet.resolved` parsed by the production schema, so tests see exactly what the CP sees. */
export function fleetOf(spec: FleetSpec): FleetResolved {
  const channelNames = new Set([
    ...Object.values(spec.hosts).map((h) => h.channel),
    ...Object.keys(spec.channels ?? {}),
  ]);
  const channels = Object.fromEntries(
    [...channelNames].map((c) => [
      c,
      {
        rolloutPolicy: spec.channels?.[c] ?? 'default',
        reconcileIntervalMinutes: 5,
        freshnessWindow: 1440,
        signingIntervalMinutes: 60,
      },
    ]),
  );
  const policyNames = new Set(['default', ...Object.values(channels).map((c) => c.rolloutPolicy)]);
  const rolloutPolicies = Object.fromEntries(
    [...policyNames].map((name) => {
      const p = spec.policies?.[name] ?? {};
      return [
        name,
        {
          strategy: 'staged',
          waves: [{ selector: { all: true }, soakMinutes: p.soakMinutes ?? 5 }],
          healthGate: {},
          onHealthFailure: p.onHealthFailure ?? 'rollback-and-halt',
          maxInFlight: p.maxInFlight ?? null,
          maxInFlightPct: p.maxInFlightPct ?? null,
        },
      ];
    }),
  );
  const raw = {
    schemaVersion: 1,
    hosts: Object.fromEntries(
      Object.entries(spec.hosts).map(([name, h]) => [
        name,
        {
          system: 'x86_64-linux',
          tags: h.tags ?? [],
          channel: h.channel,
          closureHash: h.closure === undefined ? `${name}-closure` : h.closure,
          pubkey: null,
        },
      ]),
    ),
    channels,
    rolloutPolicies,
    waves: Object.fromEntries(
      Object.entries(spec.waves ?? {}).map(([c, ws]) => [c, ws.map((hosts) => ({ hosts, soakMinutes: 5 }))]),
    ),
    edges: spec.edges ?? [],
    channelEdges: spec.channelEdges ?? [],
    disruptionBudgets: (spec.budgets ?? []).map((b) => ({
      selector: b.selector,
      maxInFlight: b.maxInFlight ?? null,
      maxInFlightPct: b.maxInFlightPct ?? null,
    })),
    meta: { schemaVersion: 1, signedAt: T0, ciCommit: 'c0ffee' },
    ...spec.raw,
  };
  return fleetResolvedSchema.parse(raw);
}

const FLEET_HASH = 'a'.repeat(64);

/** The channel's manifest as `release build` would project it, at `channelRef`. */
export function manifestFor(fleet: FleetResolved, channel: string, channelRef: string): RolloutManifest {
  const projected = projectRolloutManifest(
    { ...fleet, meta: { ...fleet.meta, ciCommit: channelRef } },
    FLEET_HASH,
    channel,
  );
  if (!projected.ok || projected.manifest === null)
    throw new Error(`channel ${channel} projects no manifest`);
  return projected.manifest;
}

export function rolloutOf(rolloutId: string, fields: Partial<RolloutSummary> = {}): RolloutSummary {
  return {
    rolloutId,
    channel: rolloutId.split('@')[0] ?? rolloutId,
    state: 'Active',
    currentWave: 0,
    terminalAt: null,
    finishedAt: null,
    ...fields,
  };
}

export function recordOf(
  rolloutId: string,
  hostname: string,
  fields: Partial<HostRecordSummary> = {},
): HostRecordSummary {
  const state = fields.state ?? 'Pending';
  return {
    rolloutId,
    hostname,
    channel: rolloutId.split('@')[0] ?? rolloutId,
    state,
    targetClosure: `${hostname}-closure`,
    // Everything past Pending went through the dispatch acknowledgement (spec §2.2).
    dispatchAckedAt: state === 'Pending' ? null : T0,
    soakDueAt: at(300),
    ...fields,
  };
}

export interface ScenarioSpec {
  readonly fleet: FleetResolved;
  /** Channel → channelRef of its current manifest. */
  readonly refs?: Readonly<Record<string, string>> | undefined;
  /** Opened rollouts by id, with summary overrides. */
  readonly rollouts?: Readonly<Record<string, Partial<RolloutSummary>>> | undefined;
  /**
   * Record overrides by rollout id then host: a state or fields. Every hostSet host of an opened
   * current rollout has a Pending record unless listed; `null` removes it.
   */
  readonly records?:
    | Readonly<Record<string, Readonly<Record<string, HostState | Partial<HostRecordSummary> | null>>>>
    | undefined;
  readonly quarantined?: readonly QuarantineEntry[] | undefined;
  readonly dispatches?: readonly OutstandingDispatch[] | undefined;
  readonly outstandingFailures?: readonly OutstandingFailures[] | undefined;
  readonly now?: string | undefined;
}

export function scenario(spec: ScenarioSpec): PlannerInput {
  const manifests: Record<string, RolloutManifest> = {};
  for (const [channel, ref] of Object.entries(spec.refs ?? {}))
    manifests[channel] = manifestFor(spec.fleet, channel, ref);
  const rollouts = Object.entries(spec.rollouts ?? {}).map(([id, fields]) => rolloutOf(id, fields));
  const records = new Map<string, HostRecordSummary>();
  const key = (id: string, host: string) => `${id}\u0000${host}`;
  for (const r of rollouts) {
    const manifest = manifests[r.channel];
    if (manifest === undefined || `${r.channel}@${manifest.channelRef}` !== r.rolloutId) continue;
    for (const h of manifest.hostSet) {
      records.set(
        key(r.rolloutId, h.hostname),
        recordOf(r.rolloutId, h.hostname, { targetClosure: h.targetClosure }),
      );
    }
  }
  for (const [id, hosts] of Object.entries(spec.records ?? {})) {
    for (const [host, override] of Object.entries(hosts)) {
      if (override === null) {
        records.delete(key(id, host));
        continue;
      }
      const fields = typeof override === 'string' ? { state: override } : override;
      const base = records.get(key(id, host));
      const merged = recordOf(id, host, {
        ...(base === undefined ? {} : { targetClosure: base.targetClosure }),
        ...fields,
      });
      records.set(key(id, host), merged);
    }
  }
  return {
    fleet: spec.fleet,
    manifests,
    rollouts,
    hostRecords: [...records.values()],
    quarantined: spec.quarantined ?? [],
    dispatches: spec.dispatches ?? [],
    outstandingFailures: spec.outstandingFailures ?? [],
    now: spec.now ?? T0,
  };
}

type ActionOf<T extends PlanAction['type']> = Extract<PlanAction, { type: T }>;

export function actionsOf<T extends PlanAction['type']>(
  actions: readonly PlanAction[],
  type: T,
): ActionOf<T>[] {
  return actions.filter((a): a is ActionOf<T> => a.type === type);
}

/** `host` or `host@rollout` of each QueueDispatch, in order. */
export const queuedHosts = (actions: readonly PlanAction[]): string[] =>
  actionsOf(actions, 'QueueDispatch').map((a) => a.host);

/** `host:gate` of each DeferDispatch, in order. */
export const deferrals = (actions: readonly PlanAction[]): string[] =>
  actionsOf(actions, 'DeferDispatch').map((a) => `${a.host}:${a.gate}`);

export function dispatchOf(
  rolloutId: string,
  hostname: string,
  fields: Partial<OutstandingDispatch> = {},
): OutstandingDispatch {
  return {
    hostname,
    rolloutId,
    targetClosure: `${hostname}-closure`,
    soakDueAt: at(300),
    queuedAt: T0,
    takenAt: null,
    ...fields,
  };
}
