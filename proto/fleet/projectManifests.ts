// The deterministic projection fleet → one rollout manifest per channel (spec §1.7). The release
// tool signs its output and the control plane and agents use it to know which rollout id to expect,
// so both sides must agree on every byte: arrays are sorted here because JCS sorts keys, not arrays.
import type { FleetResolved } from './fleetResolved.ts';
import { rolloutIdOf } from './rolloutId.ts';
import type { RolloutManifest } from './rolloutManifest.ts';
import { resolveSelector, type SelectorSubject } from './selector.ts';

function subjects(fleet: FleetResolved): SelectorSubject[] {
  return Object.entries(fleet.hosts).map(([name, h]) => ({ name, channel: h.channel, tags: h.tags }));
}

/**
 * Expected rollout id of a channel: `<channel>@<ciCommit>`, or `null` when no host of the channel
 * has a closure (such a channel has no manifest).
 */
export function rolloutIdForChannel(fleet: FleetResolved, channel: string): string | null {
  const buildable = Object.values(fleet.hosts).some((h) => h.channel === channel && h.closureHash !== null);
  return buildable ? rolloutIdOf(channel, fleet.meta.ciCommit ?? '') : null;
}

export type ProjectionResult = { ok: true; manifest: RolloutManifest | null } | { ok: false; detail: string };

/** Projects one channel; `manifest: null` when the channel has no host with a closure. */
export function projectRolloutManifest(
  fleet: FleetResolved,
  fleetResolvedHash: string,
  channel: string,
): ProjectionResult {
  const ch = fleet.channels[channel];
  if (ch === undefined)
    return { ok: false, detail: `channel ${JSON.stringify(channel)} is not in the fleet` };
  const policy = fleet.rolloutPolicies[ch.rolloutPolicy];
  if (policy === undefined) {
    return {
      ok: false,
      detail: `rollout policy ${JSON.stringify(ch.rolloutPolicy)} of channel ${channel} is missing`,
    };
  }
  const waves = fleet.waves[channel] ?? [];
  const hostSet = Object.entries(fleet.hosts)
    .filter(([, h]) => h.channel === channel && h.closureHash !== null)
    .map(([hostname, h]) => {
      // First wave listing the host; hosts no wave lists roll out with wave 0 (spec §1.7).
      const wave = waves.findIndex((w) => w.hosts.includes(hostname));
      return { hostname, waveIndex: Math.max(wave, 0), targetClosure: h.closureHash ?? '' };
    })
    .sort((a, b) => (a.hostname < b.hostname ? -1 : a.hostname > b.hostname ? 1 : 0));
  if (hostSet.length === 0) return { ok: true, manifest: null };
  const everyHost = subjects(fleet);
  const ciCommit = fleet.meta.ciCommit;
  return {
    ok: true,
    manifest: {
      schemaVersion: 1,
      displayName: `${channel}@${ciCommit === null ? 'unknown' : ciCommit.slice(0, 8)}`,
      channel,
      channelRef: ciCommit ?? '',
      fleetResolvedHash,
      hostSet,
      healthGate: policy.healthGate,
      // Every fleet budget, also those matching no host of this channel: budgets are fleet-wide.
      disruptionBudgets: fleet.disruptionBudgets.map((b) => ({
        selector: b.selector,
        hosts: resolveSelector(b.selector, everyHost),
        maxInFlight: b.maxInFlight,
        maxInFlightPct: b.maxInFlightPct,
      })),
      meta: {
        schemaVersion: 1,
        signedAt: fleet.meta.signedAt,
        ciCommit,
        signatureAlgorithm: fleet.meta.signatureAlgorithm ?? 'ed25519',
      },
    },
  };
}

/** Every channel's manifest (channels without a buildable host have none), by channel name order. */
export function projectRolloutManifests(
  fleet: FleetResolved,
  fleetResolvedHash: string,
): { ok: true; manifests: RolloutManifest[] } | { ok: false; detail: string } {
  const manifests: RolloutManifest[] = [];
  for (const channel of Object.keys(fleet.channels).sort()) {
    const r = projectRolloutManifest(fleet, fleetResolvedHash, channel);
    if (!r.ok) return r;
    if (r.manifest !== null) manifests.push(r.manifest);
  }
  return { ok: true, manifests };
}

/**
 * Policy normalization (spec §1.5): an `all-at-once` policy without waves becomes one wave over
 * every host with no soak. Only ever applied after verification, since it changes the content.
 */
export function normalizePolicies(fleet: FleetResolved): FleetResolved {
  const rolloutPolicies = Object.fromEntries(
    Object.entries(fleet.rolloutPolicies).map(([name, p]) => [
      name,
      p.strategy === 'all-at-once' && p.waves.length === 0
        ? {
            ...p,
            waves: [
              { selector: { tags: [], tagsAny: [], hosts: [], channel: null, all: true }, soakMinutes: 0 },
            ],
          }
        : p,
    ]),
  );
  return { ...fleet, rolloutPolicies };
}
