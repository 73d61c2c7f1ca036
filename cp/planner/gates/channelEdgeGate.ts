// Channel edges (spec §4.5.2, RFC-0002 §4.3): a channel gated by another does not dispatch while the
// predecessor's current rollout is not Terminal.
//
// Decision on a halted predecessor (spec §10 G15): a predecessor rollout that Failed (it has
// `finishedAt` but never gets `terminalAt`) keeps blocking its successors until CI ships it a new
// ref. That is the RFC's intent — a halt upstream must not let the downstream channel take the same
// release — and the reason says so, where the original only said "not converged".
import { blockOf, type Gate } from './gate.ts';

export const channelEdgeGate: Gate = (view, c) => {
  for (const edge of view.fleet.channelEdges) {
    if (edge.gated !== c.channel) continue;
    const pred = edge.gates;
    // No (usable) manifest: the predecessor has nothing to roll out, so nothing to wait for.
    const predId = view.currentIds.get(pred);
    if (predId === undefined) continue;
    const summary = view.summaries.get(predId);
    const prefix = `channelEdges predecessor channel '${pred}' not converged`;
    if (summary === undefined) {
      // Not opened yet (e.g. the first tick after a fresh start): its hosts have not even started.
      return blockOf(c, 'channel-edges', `${prefix} (rollout ${predId} not opened yet)`);
    }
    if (summary.terminalAt !== null) continue;
    const detail =
      summary.finishedAt !== null || summary.state === 'Failed' || summary.state === 'Reverted'
        ? `rollout ${predId} halted (${summary.state}); publish a new release of '${pred}' to clear`
        : `rollout ${predId} is ${summary.state}`;
    return blockOf(c, 'channel-edges', `${prefix} (${detail})`);
  }
  return null;
};
