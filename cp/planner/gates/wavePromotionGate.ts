// Wave promotion (spec §4.5.3): a host waits until its wave is the rollout's current wave. Waves
// come from `fleet.waves` (spec §3.7); the current wave is the one this tick's advance left.
import type { PlanView } from '../planView.ts';
import { blockOf, type Gate } from './gate.ts';

/**
 * The host's wave in its channel: a number, `null` when staging does not apply (host undeclared,
 * channel without waves), or `'unstaged'` when the channel has waves and none lists the host.
 */
export function hostWaveOf(view: PlanView, host: string): number | null | 'unstaged' {
  const channel = view.fleet.hosts[host]?.channel;
  if (channel === undefined) return null;
  const waves = view.fleet.waves[channel];
  if (waves === undefined || waves.length === 0) return null;
  return view.waveIndex.get(channel)?.get(host) ?? 'unstaged';
}

export const wavePromotionGate: Gate = (view, c) => {
  const wave = hostWaveOf(view, c.hostname);
  if (wave === null) return null;
  if (wave === 'unstaged') {
    const channel = view.fleet.hosts[c.hostname]?.channel ?? c.channel;
    return blockOf(
      c,
      'wave-promotion-host-unstaged',
      `wave-promotion: channel '${channel}' declares waves but this host is not assigned to any of them — fix the fleet declaration or the host's tag/wave selector`,
    );
  }
  const current = view.summaries.get(c.rolloutId)?.currentWave ?? 0;
  return wave > current
    ? blockOf(c, 'wave-promotion', `wave-promotion: host_wave=${wave} > current_wave=${current}`)
    : null;
};
