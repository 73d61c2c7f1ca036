// Open phase (spec §4.3 step 1, §7.8): every channel whose current manifest names a rollout not yet
// in `rollouts` gets it opened, and every other live rollout of that channel is superseded. A
// Terminal rollout is still a row, so it is never re-opened; a new channelRef is a new id.
import { byString, type PlanView } from './planView.ts';
import type { PlanAction, RolloutSummary } from './types.ts';

// Superseded and Pruned rollouts are past superseding; Terminal, Failed and Reverted ones are not
// (`list_active`, spec §7.8), so their rows record who replaced them.
const LIVE = (s: RolloutSummary): boolean => s.state !== 'Superseded' && s.state !== 'Pruned';

export function openPhase(view: PlanView): PlanAction[] {
  const byChannel = new Map<string, RolloutSummary[]>();
  for (const s of view.summaries.values()) {
    const list = byChannel.get(s.channel);
    if (list === undefined) byChannel.set(s.channel, [s]);
    else list.push(s);
  }
  const actions: PlanAction[] = [];
  for (const [channel, id] of view.currentIds) {
    const manifest = view.manifests.get(channel);
    const current = view.summaries.get(id);
    if (manifest === undefined) continue;
    // A manifest naming a retired rollout supersedes nothing: it is reported as a Notice instead.
    if (current !== undefined && !LIVE(current)) continue;
    if (current === undefined) {
      actions.push({ type: 'OpenRollout', rolloutId: id, channel, targetRef: manifest.channelRef });
    }
    // Emitted on every tick a predecessor is still live, not only at open: a crash between opening
    // and superseding must not leave two live rollouts on one channel. The chart makes it idempotent.
    const predecessors = (byChannel.get(channel) ?? [])
      .filter((s) => s.rolloutId !== id && LIVE(s))
      .map((s) => s.rolloutId)
      .sort(byString);
    for (const pred of predecessors) {
      actions.push({
        type: 'RolloutEvent',
        event: { type: 'SuccessorOpened', supersededRolloutId: pred, successorRolloutId: id, at: view.now },
      });
    }
  }
  return actions;
}
