// One tick's indexed view of the planner input: which rollout of each channel is current, the
// records, slots and budgets of each, and the fleet's waves and edges by host. Built once per tick
// so every gate answers in constant time per host (10,000 hosts per tick, issue 5), and built the
// same way for heartbeat synthesis so both see the same gates (spec §4.6).
import { isInFlight, proposeWaveAdvance } from '../../machines/index.ts';
import {
  type FleetResolved,
  type HostEdge,
  type HostState,
  type RolloutManifest,
  type RolloutPolicy,
  rolloutIdOf,
  selectorSummary,
} from '../../proto/index.ts';
import { budgetKeyOf, effectiveLimit, policyCapKeyOf } from './budgets.ts';
import type {
  HostRecordSummary,
  NoticeAction,
  OutstandingDispatch,
  PlannerInput,
  RolloutSummary,
  WaveAdvancedEvent,
} from './types.ts';

/** A disruption budget (or the policy's own cap) as one rollout sees it. */
export interface ResolvedBudget {
  /** Shared by every rollout whose budget has a structurally equal selector (spec §4.5.5). */
  readonly key: string;
  /** For reasons: the selector summary (spec §1.6) or the policy's name. */
  readonly label: string;
  /** Null when the budget caps nothing (neither maxInFlight nor maxInFlightPct). */
  readonly limit: number | null;
  /** The budget's frozen host list (spec §1.7); null means every host of the rollout. */
  readonly hosts: ReadonlySet<string> | null;
}

/** Why a rollout stopped dispatching (spec §10 G19). */
export interface HaltCause {
  /** First Failed/Reverted host by name, or null when only the rollout's own state says so. */
  readonly host: string | null;
  readonly hostState: HostState | null;
  readonly rolloutState: string;
}

/** The current rollout of a channel, opened, with everything its gates need. */
export interface PlannedRollout {
  /** With this tick's wave advance already applied (spec §3.7: "the same tick's gates see it"). */
  readonly summary: RolloutSummary;
  readonly manifest: RolloutManifest;
  readonly policyName: string | null;
  readonly policy: RolloutPolicy | null;
  readonly records: ReadonlyMap<string, HostRecordSummary>;
  /** Outstanding dispatches of Pending, un-acknowledged records: each holds a budget slot. */
  readonly slots: ReadonlyMap<string, OutstandingDispatch>;
  /** Null when the rollout has no failure entry at all (spec §4.5.6: gate open). */
  readonly failures: ReadonlyMap<string, number> | null;
  /** Failures summed per wave of the manifest channel, hosts counted once at their first wave. */
  readonly failuresPerWave: readonly number[];
  /** The manifest's budgets in order, then the rollout policy's cap. */
  readonly budgets: readonly ResolvedBudget[];
  readonly halt: HaltCause | null;
}

export interface PlanView {
  readonly fleet: FleetResolved;
  readonly now: string;
  /** Usable manifests by channel (a manifest the planner refused is reported as a Notice). */
  readonly manifests: ReadonlyMap<string, RolloutManifest>;
  /** Channel → rollout id its current manifest names, opened or not. */
  readonly currentIds: ReadonlyMap<string, string>;
  /** Every input rollout by id; planned ones carry this tick's wave. */
  readonly summaries: ReadonlyMap<string, RolloutSummary>;
  /** The current, opened, not retired rollout of each channel, by rollout id in sorted order. */
  readonly planned: ReadonlyMap<string, PlannedRollout>;
  readonly quarantine: ReadonlySet<string>;
  /** Channel → host → index of the first wave listing the host (spec §4.5.3). */
  readonly waveIndex: ReadonlyMap<string, ReadonlyMap<string, number>>;
  readonly edgesByGated: ReadonlyMap<string, readonly HostEdge[]>;
  /** Budget key → hosts occupying it at tick start, summed over planned rollouts (spec §4.5.5). */
  readonly occupancy: ReadonlyMap<string, number>;
  /** Host → planned rollouts in which it is in flight or holds an outstanding dispatch. */
  readonly busy: ReadonlyMap<string, readonly string[]>;
  readonly waveEvents: readonly WaveAdvancedEvent[];
  readonly notices: readonly NoticeAction[];
}

export const quarantineKey = (channel: string, closure: string): string => `${channel}\u0000${closure}`;

/** Code-unit order: deterministic and locale-free, unlike localeCompare. */
export const byString = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

const RETIRED: ReadonlySet<string> = new Set(['Superseded', 'Pruned']);
const HALTED_ROLLOUT: ReadonlySet<string> = new Set(['Failed', 'Reverted']);
// A Reverted host went through Failed: the halt it caused does not lift when its rollback ends.
const HALTING_HOST: ReadonlySet<HostState> = new Set<HostState>(['Failed', 'Reverted']);
// Only these states accept WaveAdvanced as a wave bump (spec §3.5); proposing it to any other state
// would move the view's wave while the chart's stays put.
const WAVE_ADVANCEABLE: ReadonlySet<string> = new Set(['Active', 'Converging']);

function usableManifests(input: PlannerInput, notices: NoticeAction[]): Map<string, RolloutManifest> {
  const usable = new Map<string, RolloutManifest>();
  for (const channel of Object.keys(input.manifests).sort(byString)) {
    const manifest = input.manifests[channel];
    if (manifest === undefined) continue;
    const notice = (code: NoticeAction['code'], detail: string) =>
      notices.push({ type: 'Notice', code, channel, rolloutId: null, detail });
    if (manifest.channel !== channel) {
      notice(
        'manifest-channel-mismatch',
        `the manifest cached for channel '${channel}' is for channel '${manifest.channel}'; the release source must key manifests by their own channel`,
      );
    } else if (channel.includes('@')) {
      notice('invalid-channel', `channel '${channel}' contains '@' and cannot form a rollout id (spec §1.8)`);
    } else if (manifest.channelRef === '') {
      notice(
        'missing-channel-ref',
        `the manifest of channel '${channel}' has an empty channelRef; CI must stamp meta.ciCommit on the fleet`,
      );
    } else if (!Object.hasOwn(input.fleet.channels, channel)) {
      notice('channel-unknown', `channel '${channel}' has a manifest but the fleet does not declare it`);
    } else {
      usable.set(channel, manifest);
    }
  }
  return usable;
}

function firstWaveIndex(fleet: FleetResolved): Map<string, Map<string, number>> {
  const out = new Map<string, Map<string, number>>();
  for (const [channel, waves] of Object.entries(fleet.waves)) {
    const index = new Map<string, number>();
    waves.forEach((wave, i) => {
      for (const host of wave.hosts) if (!index.has(host)) index.set(host, i);
    });
    out.set(channel, index);
  }
  return out;
}

function nested<V>(outer: Map<string, Map<string, V>>, key: string): Map<string, V> {
  let inner = outer.get(key);
  if (inner === undefined) {
    inner = new Map();
    outer.set(key, inner);
  }
  return inner;
}

function resolveBudgets(
  manifest: RolloutManifest,
  rolloutId: string,
  policyName: string | null,
  policy: RolloutPolicy | null,
): ResolvedBudget[] {
  const budgets: ResolvedBudget[] = manifest.disruptionBudgets.map((b) => ({
    key: budgetKeyOf(b.selector),
    label: selectorSummary(b.selector),
    limit: effectiveLimit(b.maxInFlight, b.maxInFlightPct, b.hosts.length),
    hosts: new Set(b.hosts),
  }));
  // The policy's own cap (contract §3) bounds this rollout alone, whatever budgets say.
  const cap =
    policy === null
      ? null
      : effectiveLimit(policy.maxInFlight, policy.maxInFlightPct, manifest.hostSet.length);
  if (cap !== null) {
    budgets.push({
      key: policyCapKeyOf(rolloutId),
      label: `rollout policy '${policyName ?? ''}' cap`,
      limit: cap,
      hosts: null,
    });
  }
  return budgets;
}

function haltCause(
  summary: RolloutSummary,
  records: ReadonlyMap<string, HostRecordSummary>,
): HaltCause | null {
  let first: HostRecordSummary | null = null;
  for (const r of records.values()) {
    if (HALTING_HOST.has(r.state) && (first === null || r.hostname < first.hostname)) first = r;
  }
  // Both onHealthFailure values halt (spec §1.2: "halt" | "rollback-and-halt"), so any failure does.
  if (first !== null) return { host: first.hostname, hostState: first.state, rolloutState: summary.state };
  if (HALTED_ROLLOUT.has(summary.state)) return { host: null, hostState: null, rolloutState: summary.state };
  return null;
}

function failuresPerWave(
  failures: ReadonlyMap<string, number> | null,
  waves: FleetResolved['waves'][string] | undefined,
): number[] {
  if (failures === null || waves === undefined) return [];
  const seen = new Set<string>();
  return waves.map((wave) => {
    let sum = 0;
    for (const host of wave.hosts) {
      if (seen.has(host)) continue;
      seen.add(host);
      sum += failures.get(host) ?? 0;
    }
    return sum;
  });
}

export function buildPlanView(input: PlannerInput): PlanView {
  const { fleet, now } = input;
  const notices: NoticeAction[] = [];
  const manifests = usableManifests(input, notices);

  const summaries = new Map<string, RolloutSummary>();
  for (const r of input.rollouts) summaries.set(r.rolloutId, r);

  const currentIds = new Map<string, string>();
  // Rollout id → the channel whose manifest names it (not the row's own channel field).
  const plannedIds = new Map<string, string>();
  for (const [channel, manifest] of manifests) {
    const id = rolloutIdOf(channel, manifest.channelRef);
    currentIds.set(channel, id);
    const summary = summaries.get(id);
    if (summary === undefined) continue;
    if (RETIRED.has(summary.state)) {
      notices.push({
        type: 'Notice',
        code: 'rollout-retired',
        channel,
        rolloutId: id,
        detail: `the current manifest names rollout ${id}, which is ${summary.state}; publish a new release of '${channel}' to roll out again`,
      });
      continue;
    }
    plannedIds.set(id, channel);
  }

  const records = new Map<string, Map<string, HostRecordSummary>>();
  for (const r of input.hostRecords)
    if (plannedIds.has(r.rolloutId)) nested(records, r.rolloutId).set(r.hostname, r);

  const slots = new Map<string, Map<string, OutstandingDispatch>>();
  for (const d of input.dispatches) {
    const record = records.get(d.rolloutId)?.get(d.hostname);
    if (record !== undefined && record.state === 'Pending' && record.dispatchAckedAt === null) {
      nested(slots, d.rolloutId).set(d.hostname, d);
    }
  }

  const failures = new Map<string, Map<string, number>>();
  for (const f of input.outstandingFailures) {
    if (!plannedIds.has(f.rolloutId)) continue;
    const perHost = nested(failures, f.rolloutId);
    perHost.set(f.hostname, (perHost.get(f.hostname) ?? 0) + f.count);
  }

  const waveEvents: WaveAdvancedEvent[] = [];
  const planned = new Map<string, PlannedRollout>();
  for (const [id, channel] of [...plannedIds].sort(([a], [b]) => byString(a, b))) {
    let summary = summaries.get(id);
    const manifest = manifests.get(channel);
    if (summary === undefined || manifest === undefined) continue;
    const hostRecords = records.get(id) ?? new Map<string, HostRecordSummary>();
    const halt = haltCause(summary, hostRecords);
    const waves = fleet.waves[channel];

    // Wave advance before planning (spec §3.7), proposed to the rollout chart (spec §10 G18). A
    // halted rollout does not advance: halting means nothing further moves.
    if (halt === null && waves !== undefined && WAVE_ADVANCEABLE.has(summary.state)) {
      const states = new Map<string, HostState>();
      for (const [host, r] of hostRecords) states.set(host, r.state);
      const event = proposeWaveAdvance(
        summary,
        waves.map((w) => w.hosts),
        states,
        now,
      );
      if (event !== null) {
        waveEvents.push(event);
        summary = { ...summary, currentWave: event.toWave };
        summaries.set(id, summary);
      }
    }

    const policyName = fleet.channels[channel]?.rolloutPolicy ?? null;
    const policy = policyName === null ? null : (fleet.rolloutPolicies[policyName] ?? null);
    const rolloutFailures = failures.get(id) ?? null;
    planned.set(id, {
      summary,
      manifest,
      policyName,
      policy,
      records: hostRecords,
      slots: slots.get(id) ?? new Map(),
      failures: rolloutFailures,
      failuresPerWave: failuresPerWave(rolloutFailures, waves),
      budgets: resolveBudgets(manifest, id, policyName, policy),
      halt,
    });
  }

  // Budget occupancy at tick start: in flight (Activating ∪ Soaking, spec §10 G17) plus dispatches
  // queued but not yet acknowledged, counted per (rollout, host) across every planned rollout that
  // has the budget — the first budget of a rollout with that key (spec §4.5.5, D-008).
  const occupancy = new Map<string, number>();
  const busy = new Map<string, string[]>();
  for (const [id, rollout] of planned) {
    const occupying: string[] = [];
    for (const [host, r] of rollout.records) {
      if (isInFlight(r.state) || rollout.slots.has(host)) occupying.push(host);
    }
    for (const host of occupying) {
      const list = busy.get(host);
      if (list === undefined) busy.set(host, [id]);
      else list.push(id);
    }
    const counted = new Set<string>();
    for (const budget of rollout.budgets) {
      if (counted.has(budget.key)) continue;
      counted.add(budget.key);
      const hosts = budget.hosts;
      const n = hosts === null ? occupying.length : occupying.filter((h) => hosts.has(h)).length;
      occupancy.set(budget.key, (occupancy.get(budget.key) ?? 0) + n);
    }
  }

  const edgesByGated = new Map<string, HostEdge[]>();
  for (const edge of fleet.edges) {
    const list = edgesByGated.get(edge.gated);
    if (list === undefined) edgesByGated.set(edge.gated, [edge]);
    else list.push(edge);
  }

  return {
    fleet,
    now,
    manifests,
    currentIds,
    summaries,
    planned,
    quarantine: new Set(input.quarantined.map((q) => quarantineKey(q.channel, q.closure))),
    waveIndex: firstWaveIndex(fleet),
    edgesByGated,
    occupancy,
    busy,
    waveEvents,
    notices,
  };
}
