// Issue 5's planner figure: the time of one plan tick (`planNext`, pure, no I/O) for 10,000 hosts
// in 2 channels of 3 waves each, mid-rollout, as a ratio to merely iterating the same host records
// once, measured in the same run. Target: under 250 ms per tick.
import { type PlannerInput, planNext } from '../cp/planner/index.ts';
import {
  type FleetResolved,
  fleetResolvedSchema,
  type HostState,
  projectRolloutManifest,
  type RolloutManifest,
} from '../proto/index.ts';
import { fmt, printTable } from './support.ts';

const HOSTS = 10_000;
const CHANNELS = ['stable', 'edge'] as const;
const WAVES = 3;
const WARMUP = 5;
const RUNS = 15;
const NOW = '2026-05-16T02:00:00.000Z';

const hostName = (i: number) => `host-${String(i).padStart(5, '0')}`;

function benchFleet(): FleetResolved {
  const hosts: Record<string, unknown> = {};
  const waves: Record<string, { hosts: string[]; soakMinutes: number }[]> = {};
  for (const c of CHANNELS) waves[c] = Array.from({ length: WAVES }, () => ({ hosts: [], soakMinutes: 10 }));
  const edges: { gated: string; gates: string }[] = [];
  for (let i = 0; i < HOSTS; i++) {
    const channel = CHANNELS[i % CHANNELS.length] ?? 'stable';
    const name = hostName(i);
    hosts[name] = {
      system: 'x86_64-linux',
      tags: [`rack-${i % 20}`, i % 7 === 0 ? 'db' : 'web'],
      channel,
      closureHash: `${name}-closure`,
      pubkey: null,
    };
    // Hosts spread evenly over the channel's three waves.
    waves[channel]?.[Math.floor(i / CHANNELS.length) % WAVES]?.hosts.push(name);
    // Every 50th host waits for its same-channel neighbour two places back.
    if (i % 50 === 0 && i >= 2) edges.push({ gated: name, gates: hostName(i - 2) });
  }
  const policy = {
    strategy: 'staged',
    waves: [{ selector: { all: true }, soakMinutes: 10 }],
    healthGate: {},
    onHealthFailure: 'rollback-and-halt',
    maxInFlightPct: 20,
  };
  return fleetResolvedSchema.parse({
    schemaVersion: 1,
    hosts,
    channels: Object.fromEntries(
      [...CHANNELS, 'canary'].map((c) => [
        c,
        {
          rolloutPolicy: 'staged',
          reconcileIntervalMinutes: 5,
          freshnessWindow: 1440,
          signingIntervalMinutes: 60,
        },
      ]),
    ),
    rolloutPolicies: { staged: policy },
    waves,
    edges,
    // `canary` has no hosts, hence no manifest: the gate is evaluated and passes (spec §4.5.2).
    channelEdges: [{ gates: 'canary', gated: 'stable' }],
    disruptionBudgets: [
      { selector: { all: true }, maxInFlightPct: 5 },
      { selector: { tags: ['db'] }, maxInFlight: 40 },
      { selector: { tagsAny: ['rack-3', 'rack-4'] }, maxInFlight: 60 },
      { selector: { channel: 'edge' }, maxInFlightPct: 10 },
    ],
    meta: { schemaVersion: 1, signedAt: '2026-05-16T01:00:00Z', ciCommit: 'r1' },
  });
}

/**
 * Mid-rollout state: `stable` is in wave 1 with wave 0 converged and part of wave 1 in flight or
 * queued; `edge` has just finished wave 0, so this tick also advances it.
 */
function benchInput(): PlannerInput {
  const fleet = benchFleet();
  const manifests: Record<string, RolloutManifest> = {};
  for (const c of CHANNELS) {
    const projected = projectRolloutManifest(fleet, 'b'.repeat(64), c);
    if (projected.ok && projected.manifest !== null) manifests[c] = projected.manifest;
  }
  const hostRecords: PlannerInput['hostRecords'][number][] = [];
  const dispatches: PlannerInput['dispatches'][number][] = [];
  for (const c of CHANNELS) {
    const rolloutId = `${c}@r1`;
    for (const h of manifests[c]?.hostSet ?? []) {
      const nth = Number(h.hostname.slice(5));
      let state: HostState = 'Pending';
      if (h.waveIndex === 0) state = nth % 97 === 0 ? 'Deferred' : 'Converged';
      else if (c === 'stable' && h.waveIndex === 1 && nth % 10 === 0)
        state = nth % 20 === 0 ? 'Soaking' : 'Activating';
      hostRecords.push({
        rolloutId,
        hostname: h.hostname,
        channel: c,
        state,
        targetClosure: h.targetClosure,
        dispatchAckedAt: state === 'Pending' ? null : NOW,
        soakDueAt: '2026-05-16T02:10:00.000Z',
      });
      if (state === 'Pending' && h.waveIndex === 1 && c === 'stable' && nth % 10 === 1) {
        dispatches.push({
          hostname: h.hostname,
          rolloutId,
          targetClosure: h.targetClosure,
          soakDueAt: '2026-05-16T02:10:00.000Z',
          queuedAt: '2026-05-16T01:59:50.000Z',
          takenAt: nth % 20 === 1 ? '2026-05-16T01:59:00.000Z' : null,
        });
      }
    }
  }
  return {
    fleet,
    manifests,
    rollouts: CHANNELS.map((c) => ({
      rolloutId: `${c}@r1`,
      channel: c,
      state: 'Active' as const,
      currentWave: c === 'stable' ? 1 : 0,
      terminalAt: null,
      finishedAt: null,
    })),
    hostRecords,
    quarantined: [{ channel: 'stable', closure: `${hostName(102)}-closure` }],
    dispatches,
    outstandingFailures: [{ rolloutId: 'edge@r1', hostname: hostName(1), count: 0 }],
    now: NOW,
  };
}

function medianMs(fn: () => unknown): number {
  const gc = (globalThis as { gc?: () => void }).gc;
  for (let i = 0; i < WARMUP; i++) fn();
  const samples: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    gc?.();
    const t0 = process.hrtime.bigint();
    fn();
    samples.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  samples.sort((a, b) => a - b);
  return samples[Math.floor(samples.length / 2)] ?? Number.NaN;
}

export function runPlannerBench(): void {
  const input = benchInput();

  // Baseline: one pass over the same records doing the least a planner must (look at each state).
  let pending = 0;
  const iterate = medianMs(() => {
    pending = 0;
    for (const r of input.hostRecords) if (r.state === 'Pending' && r.dispatchAckedAt === null) pending++;
  });
  let actions = planNext(input);
  const tick = medianMs(() => {
    actions = planNext(input);
  });

  const count = (type: string) => actions.filter((a) => a.type === type).length;
  printTable(
    `Planner: one plan tick, ${fmt(HOSTS)} hosts, ${CHANNELS.length} channels × ${WAVES} waves (median of ${RUNS})`,
    [
      ['measure', 'ms', 'ratio'],
      ['iterate host records once (baseline)', fmt(iterate, 3), '1'],
      ['planNext tick', fmt(tick, 1), fmt(tick / iterate, 0)],
    ],
  );
  console.log(
    `  ${fmt(pending)} Pending un-acked records → ${count('QueueDispatch')} QueueDispatch, ` +
      `${count('DeferDispatch')} DeferDispatch, ${count('RolloutEvent')} RolloutEvent; target < 250 ms per tick`,
  );
}
