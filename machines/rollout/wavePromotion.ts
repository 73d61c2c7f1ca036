// current_wave promotion (spec §3.7), run at the start of every plan. Pure: it proposes the
// WaveAdvanced event and the rollout chart applies it, so the chart alone owns currentWave
// (spec §10 G18: the original bumped the column behind the chart's back).
import type { HostState } from '../../proto/common.ts';
import type { RolloutEvent } from '../../proto/rolloutEvent.ts';
import { isOrderingEligible } from '../hostRollout/stateSets.ts';
import type { RolloutContext } from './context.ts';

export function proposeWaveAdvance(
  rollout: Pick<RolloutContext, 'rolloutId' | 'currentWave' | 'terminalAt'>,
  waves: readonly (readonly string[])[],
  hostStates: ReadonlyMap<string, HostState>,
  at: string,
): Extract<RolloutEvent, { type: 'WaveAdvanced' }> | null {
  if (rollout.terminalAt !== null) return null;
  const current = waves[rollout.currentWave];
  if (current === undefined || rollout.currentWave + 1 >= waves.length) return null;
  // An empty wave is never promoted automatically: nothing in it could vouch for the release.
  if (current.length === 0) return null;
  const done = current.every((host) => {
    const state = hostStates.get(host);
    return state !== undefined && isOrderingEligible(state);
  });
  if (!done) return null;
  return {
    type: 'WaveAdvanced',
    rolloutId: rollout.rolloutId,
    fromWave: rollout.currentWave,
    toWave: rollout.currentWave + 1,
    at,
  };
}
