// Compliance wave (spec §4.5.6, RFC-0007 §7.2): a host of wave n > 0 waits while any host of an
// earlier wave has outstanding enforce-probe failures in this rollout. Failures are never resolved
// while the rollout lives (spec §7.13), so one such failure holds every later wave.
import { blockOf, type Gate } from './gate.ts';
import { hostWaveOf } from './wavePromotionGate.ts';

export const complianceWaveGate: Gate = (view, c) => {
  const wave = hostWaveOf(view, c.hostname);
  if (wave === null || wave === 'unstaged' || wave === 0) return null;
  const rollout = view.planned.get(c.rolloutId);
  if (rollout === undefined || rollout.failures === null) return null;
  let sum = 0;
  const channel = view.fleet.hosts[c.hostname]?.channel;
  if (channel === rollout.manifest.channel) {
    for (let i = 0; i < wave; i++) sum += rollout.failuresPerWave[i] ?? 0;
  } else {
    // A record whose host moved channel: sum over that channel's waves directly (rare, uncached).
    const seen = new Set<string>();
    for (const w of (channel === undefined ? undefined : view.fleet.waves[channel])?.slice(0, wave) ?? []) {
      for (const h of w.hosts) {
        if (seen.has(h)) continue;
        seen.add(h);
        sum += rollout.failures.get(h) ?? 0;
      }
    }
  }
  return sum > 0
    ? blockOf(
        c,
        'compliance-wave',
        `compliance-wave: ${sum} outstanding failure(s) on hosts in wave < ${wave}`,
      )
    : null;
};
