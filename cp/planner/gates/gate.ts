// The shape every dispatch gate shares (spec §4.4): given the tick's view, one Pending host and what
// this tick has already decided, either nothing (pass) or the block to report.
import type { PlanView } from '../planView.ts';
import type { GateBlock, GateName, HostRecordSummary } from '../types.ts';

/** The host a gate is asked about; `channel` is the record's, as the quarantine was keyed (§7.12). */
export type DispatchCandidate = Pick<
  HostRecordSummary,
  'rolloutId' | 'hostname' | 'channel' | 'targetClosure'
>;

/** What earlier hosts of the same tick have taken (spec §4.3 `tickDispatched`). */
export interface TickLedger {
  /** Budget key → hosts dispatched this tick under it (spec §4.5.5, D-008 test B). */
  readonly budgets: ReadonlyMap<string, number>;
  /** Hosts already given (or confirmed in) a dispatch this tick. */
  readonly hosts: ReadonlySet<string>;
}

/** Heartbeat synthesis evaluates with nothing decided yet (spec §4.6). */
export const EMPTY_TICK: TickLedger = { budgets: new Map(), hosts: new Set() };

export type Gate = (view: PlanView, candidate: DispatchCandidate, tick: TickLedger) => GateBlock | null;

export function blockOf(candidate: DispatchCandidate, gate: GateName, reason: string): GateBlock {
  return { host: candidate.hostname, rolloutId: candidate.rolloutId, gate, reason };
}
