// `/metrics` (spec §5.10, contract §4): the spec's names, refreshed from the database on every
// scrape (gauges) or counted as things happen (counters), plus the CP's own HTTP, release and
// long-poll series. One registry per CP instance, so tests can run several side by side.
import { sql } from 'drizzle-orm';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { type Database, sqlRows } from '../db/index.ts';
import type { VerifiedRelease } from './releaseSource/index.ts';

export interface CpMetrics {
  readonly registry: Registry;
  readonly httpDuration: Histogram<'method' | 'route' | 'status'>;
  readonly gateBlocks: Counter<'gate'>;
  readonly complianceFailures: Counter<'control_id' | 'host'>;
  readonly runtimeGateErrors: Counter;
  readonly agentEvents: Counter<'outcome'>;
  readonly releaseRefusals: Counter<'code'>;
  readonly releaseLoaded: Gauge;
  readonly releaseRefused: Gauge;
  readonly longpollsWaiting: Gauge;
  readonly planTicks: Counter<'outcome'>;
  /** Re-reads the state-derived gauges; call right before rendering. */
  refresh(db: Database, release: VerifiedRelease | undefined, now: Date): Promise<void>;
}

export interface CpMetricsOptions {
  version: string;
  gitCommit?: string | undefined;
}

const IN_FLIGHT_EXCLUDED = ['Superseded', 'Pruned', 'Terminal'];

export function createCpMetrics(options: CpMetricsOptions): CpMetrics {
  const registry = new Registry();
  const r = { registers: [registry] };

  new Gauge({
    name: 'nixfleet_cp_build_info',
    help: 'Build of this control plane (constant 1)',
    labelNames: ['version', 'git_commit'],
    ...r,
  }).set({ version: options.version, git_commit: options.gitCommit ?? 'unknown' }, 1);

  const gauge = <L extends string>(name: string, help: string, labelNames: readonly L[]) =>
    new Gauge<L>({ name, help, labelNames: [...labelNames], ...r });

  const channelActive = gauge(
    'nixfleet_channel_active_rollouts_total',
    'In-flight rollouts per declared channel',
    ['channel'],
  );
  const channelWindow = gauge('nixfleet_channel_freshness_window_minutes', 'Freshness window per channel', [
    'channel',
  ]);
  const channelWave = gauge(
    'nixfleet_channel_max_current_wave',
    'Highest current wave of a channel’s rollouts',
    ['channel'],
  );
  const channelOldest = gauge(
    'nixfleet_channel_oldest_active_rollout_age_seconds',
    'Age of the oldest in-flight rollout of a channel (0 when none)',
    ['channel'],
  );
  const fleetAge = gauge(
    'nixfleet_fleet_signed_age_seconds',
    'Seconds since the verified fleet was signed',
    [],
  );
  const hostConverged = gauge('nixfleet_host_converged', 'Host converged in its latest rollout (0/1)', [
    'host',
    'channel',
  ]);
  const hostState = gauge('nixfleet_host_rollout_state', 'Host-rollout state of the host’s latest rollout', [
    'host',
    'channel',
    'state',
  ]);
  const hostEvents = gauge('nixfleet_host_verified_event_count', 'Highest agent event seq applied', [
    'host',
    'channel',
  ]);
  const hostCompliance = gauge(
    'nixfleet_host_outstanding_compliance_failures',
    'Distinct outstanding enforce failures in the host’s latest rollout',
    ['host', 'channel'],
  );
  const hostRuntimeGate = gauge(
    'nixfleet_host_outstanding_runtime_gate_errors',
    'Outstanding runtime gate errors (always 0 in v0.2)',
    ['host', 'channel'],
  );
  const hostCheckin = gauge('nixfleet_host_last_checkin_seconds', 'Seconds since the host’s last heartbeat', [
    'host',
  ]);

  return {
    registry,
    httpDuration: new Histogram({
      name: 'nixfleet_http_request_duration_seconds',
      help: 'HTTP request duration by route template and status',
      labelNames: ['method', 'route', 'status'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      ...r,
    }),
    gateBlocks: new Counter({
      name: 'nixfleet_gate_block_total',
      help: 'Dispatch blocks by gate',
      labelNames: ['gate'],
      ...r,
    }),
    complianceFailures: new Counter({
      name: 'nixfleet_compliance_failure_events_total',
      help: 'Enforce compliance failures recorded',
      labelNames: ['control_id', 'host'],
      ...r,
    }),
    runtimeGateErrors: new Counter({
      name: 'nixfleet_runtime_gate_error_events_total',
      help: 'Runtime gate errors',
      ...r,
    }),
    agentEvents: new Counter({
      name: 'nixfleet_agent_events_total',
      help: 'POST /v1/agent/events outcomes',
      labelNames: ['outcome'],
      ...r,
    }),
    releaseRefusals: new Counter({
      name: 'nixfleet_release_refusals_total',
      help: 'Release polls refused, by verification code',
      labelNames: ['code'],
      ...r,
    }),
    releaseLoaded: new Gauge({
      name: 'nixfleet_release_loaded',
      help: '1 once a verified release is loaded',
      ...r,
    }),
    releaseRefused: new Gauge({
      name: 'nixfleet_release_refused',
      help: '1 while the latest release poll was refused (the last good set is still served)',
      ...r,
    }),
    longpollsWaiting: new Gauge({
      name: 'nixfleet_dispatch_longpolls_waiting',
      help: 'Dispatch long-polls currently held',
      ...r,
    }),
    planTicks: new Counter({
      name: 'nixfleet_plan_ticks_total',
      help: 'Plan ticks by outcome',
      labelNames: ['outcome'],
      ...r,
    }),
    async refresh(db, release, now) {
      for (const g of [
        channelActive,
        channelWindow,
        channelWave,
        channelOldest,
        fleetAge,
        hostConverged,
        hostState,
        hostEvents,
        hostCompliance,
        hostRuntimeGate,
        hostCheckin,
      ]) {
        g.reset();
      }
      const [rollouts, hosts, presence] = await Promise.all([
        sqlRows<{ channel: string; state: string; current_wave: number; opened_ms: number }>(
          db,
          sql`SELECT channel, state, current_wave, (extract(epoch FROM opened_at) * 1000)::float8 AS opened_ms FROM rollouts WHERE status <> 'quarantined'`,
        ),
        // The host's latest rollout by opening time: one series per host, as the v0.1 per-host view.
        sqlRows<{ hostname: string; channel: string; state: string; seq: number; failures: number }>(
          db,
          sql`SELECT DISTINCT ON (h.hostname) h.hostname, h.channel, h.state, h.last_event_seq::float8 AS seq,
                (SELECT COUNT(DISTINCT COALESCE(p.control_id, p.probe_name))::int FROM probe_failures p
                  WHERE p.rollout_id = h.rollout_id AND p.host_id = h.hostname) AS failures
              FROM host_rollout_records h JOIN rollouts r ON r.rollout_id = h.rollout_id
              ORDER BY h.hostname, r.opened_at DESC, h.rollout_id DESC`,
        ),
        sqlRows<{ hostname: string; at_ms: number }>(
          db,
          sql`SELECT hostname, (extract(epoch FROM last_heartbeat_at) * 1000)::float8 AS at_ms FROM host_presence`,
        ),
      ]);
      const channels = new Set<string>(Object.keys(release?.fleet.verified.inner.channels ?? {}));
      for (const row of rollouts) channels.add(row.channel);
      for (const channel of channels) {
        const live = rollouts.filter((x) => x.channel === channel && !IN_FLIGHT_EXCLUDED.includes(x.state));
        channelActive.set({ channel }, live.length);
        channelWave.set({ channel }, Math.max(0, ...live.map((x) => Number(x.current_wave))));
        const oldest = Math.min(...live.map((x) => Number(x.opened_ms)));
        channelOldest.set({ channel }, live.length === 0 ? 0 : Math.max(0, (now.getTime() - oldest) / 1000));
        const window = release?.fleet.verified.inner.channels[channel]?.freshnessWindow;
        if (window !== undefined) channelWindow.set({ channel }, window);
      }
      if (release !== undefined) {
        fleetAge.set(Math.max(0, (now.getTime() - Date.parse(release.fleet.verified.signedAt)) / 1000));
      }
      for (const h of hosts) {
        const labels = { host: h.hostname, channel: h.channel };
        hostConverged.set(labels, h.state === 'Converged' ? 1 : 0);
        hostState.set({ ...labels, state: h.state }, 1);
        hostEvents.set(labels, Number(h.seq));
        hostCompliance.set(labels, Number(h.failures));
        hostRuntimeGate.set(labels, 0);
      }
      for (const p of presence) {
        hostCheckin.set({ host: p.hostname }, Math.max(0, (now.getTime() - Number(p.at_ms)) / 1000));
      }
    },
  };
}
