// Quarantine (spec §4.5.1): a (channel, closure) that was rolled back is never dispatched again in
// that channel; only a different closure from CI clears it. The set comes from the
// `quarantined_closures` table every tick, never an in-memory copy that can miss rows (§10 G1).
import { quarantineKey } from '../planView.ts';
import { blockOf, type Gate } from './gate.ts';

export const quarantineGate: Gate = (view, c) =>
  view.quarantine.has(quarantineKey(c.channel, c.targetClosure))
    ? blockOf(
        c,
        'quarantine',
        `channel ${c.channel} closure ${c.targetClosure} quarantined (sustained probe failures); push a new closure to clear`,
      )
    : null;
