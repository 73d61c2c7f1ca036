// Host edges (spec §4.5.4): a gated host waits until each of its gating hosts is ordering-eligible
// (Converged or Deferred) in the same rollout. A gating host without a record here (e.g. it has no
// closure) blocks: there is nothing to vouch for the release.
import { isOrderingEligible } from '../../../machines/index.ts';
import { blockOf, type Gate } from './gate.ts';

export const hostEdgeGate: Gate = (view, c) => {
  const hosts = view.fleet.hosts;
  const self = hosts[c.hostname];
  if (self === undefined) return null;
  const records = view.planned.get(c.rolloutId)?.records;
  for (const edge of view.edgesByGated.get(c.hostname) ?? []) {
    // mkFleet forbids cross-channel edges and edges to undeclared hosts; ignore them defensively.
    const gating = hosts[edge.gates];
    if (gating === undefined || gating.channel !== self.channel) continue;
    const state = records?.get(edge.gates)?.state;
    if (state === undefined || !isOrderingEligible(state)) {
      return blockOf(c, 'host-edge', `host-edge: gating host '${edge.gates}' not yet Converged`);
    }
  }
  return null;
};
