// Heartbeat recovery synthesis (spec §7.4, seed 004 `maybe_synthesize_recovery_completion`): the
// CP compares a host's reported closure with each of its active records and synthesises the events
// the record missed — the agent was restarted by its own switch, the operator rebooted into a staged
// closure, the rollback killed the agent, or the CP's database was wiped. Pure: the caller loads the
// records, passes the CP clock and the planner's gate verdict, and persists the stepped snapshots.
//
// Every synthesised chain is stepped through the shared chart, so a chain the chart would refuse is
// never persisted, and synthesised events are Remote* only: no effect here can fire a switch or a
// rollback on the host (a host already on its target is never re-activated).
import {
  type HostEffect,
  type HostRolloutSnapshot,
  type HostTransitionError,
  hostStateOf,
  isActive,
  type RemoteEvent,
  type RemoteEventOf,
  stepHostRollout,
  toMillis,
} from '../../machines/index.ts';
import type { HostState, Timestamp } from '../../proto/index.ts';

/** The dispatch gates' verdict on a Pending record (spec §4.6); a bare boolean is accepted too. */
export type GateVerdict = { allow: true } | { allow: false; reason: string };
export type GateCheck = (record: HostRolloutSnapshot) => boolean | GateVerdict;

export interface SynthesizeFromHeartbeatInput {
  /** The host's records (`active_for_host`); inactive ones are skipped. Processed in rolloutId order. */
  records: readonly HostRolloutSnapshot[];
  /** `current_closure` from the heartbeat; null (no /run/current-system) synthesises nothing. */
  currentClosure: string | null;
  /** CP clock. Every synthesised event is stamped with it, and no stamp is ever later (G12). */
  now: Timestamp;
  /**
   * Would the dispatch gates let this Pending record be dispatched now (spec §4.6: empty tick map,
   * current quarantines, fresh FleetState)? Called only for Pending records already on target. A
   * planner that cannot evaluate (no manifests, FleetState build error) should answer "blocked".
   */
  gatesAllow: GateCheck;
}

/**
 * Which §7.4 case fired. `soak-elapsed` is beyond the original: it finishes a soak the CP itself
 * synthesised (see `isCpOwnedSoak`) once `soakDueAt` has passed, instead of stamping a future
 * `convergedAt` (G12).
 */
export type RecoveryCase = 'activation-completed' | 'pending-chain' | 'soak-elapsed' | 'rollback-completed';

/** Why a chain stopped short of its last event; the prefix before it is still applied. */
export type SynthesisStop =
  /** Soak not over: the record waits in Soaking; a later heartbeat converges it. */
  | { reason: 'soak-not-due'; soakDueAt: Timestamp }
  /** The chart refused a synthesised event (e.g. a Converged invariant): nothing after it runs. */
  | { reason: 'refused'; event: RemoteEvent['type']; error: HostTransitionError };

export interface SynthesizedEvent {
  hostname: string;
  rolloutId: string;
  event: RemoteEvent;
}

export type RecordRecovery =
  | {
      kind: 'advanced';
      hostname: string;
      rolloutId: string;
      case: RecoveryCase;
      from: HostState;
      to: HostState;
      /** The events applied, in order, with the seqs they were applied under. */
      events: RemoteEvent[];
      /** The chart's effects in order (event log, transitions, quarantine): Remote* only. */
      effects: HostEffect[];
      /** The record after the last applied event: persist it. */
      snapshot: HostRolloutSnapshot;
      stop: SynthesisStop | null;
    }
  | {
      /** On target but not advanced; the record is unchanged. */
      kind: 'held';
      hostname: string;
      rolloutId: string;
      case: RecoveryCase;
      state: HostState;
      stop: SynthesisStop | { reason: 'gates-block'; detail: string };
    };

export interface SynthesisResult {
  /** Every applied synthesised event, flat and in order, addressed to its record. */
  events: SynthesizedEvent[];
  /** One entry per record a case matched. */
  recoveries: RecordRecovery[];
  /** Every input record after synthesis (unchanged ones as given), ordered by rolloutId. */
  snapshots: HostRolloutSnapshot[];
}

/**
 * A Soaking record the CP drove there itself from Pending: its dispatch ack was synthesised, which
 * is the only way `currentClosureAtDispatch` ends up null (agents always report a string, `""` when
 * /run/current-system is missing — spec §6.7 step 5). No agent is soaking such a record: the host
 * converged before the CP lost its database, so the agent's own record is terminal and it will not
 * report convergence again. The CP finishes the soak itself once it is due.
 */
export function isCpOwnedSoak(record: HostRolloutSnapshot): boolean {
  return hostStateOf(record) === 'Soaking' && record.context.currentClosureAtDispatch === null;
}

/**
 * A Pending record whose host already runs its target. Dispatching it would make the agent
 * re-activate the closure it runs; the planner can leave it to heartbeat synthesis instead.
 */
export function alreadyOnTarget(record: HostRolloutSnapshot, currentClosure: string | null): boolean {
  return hostStateOf(record) === 'Pending' && record.context.targetClosure === currentClosure;
}

function verdict(v: boolean | GateVerdict): GateVerdict {
  if (typeof v === 'boolean') return v ? { allow: true } : { allow: false, reason: 'a dispatch gate blocks' };
  return v;
}

const ev = {
  dispatchAck: (seq: number, now: Timestamp): RemoteEventOf<'DispatchAck'> => ({
    type: 'RemoteDispatchAck',
    // Unknown to the CP after a wipe. null, not the agent's `""`: `""` counts as a rollback target
    // (spec §2.5) and would also match nothing on a later Failed→Reverted check; null marks the
    // record as CP-driven (`isCpOwnedSoak`).
    currentClosureAtDispatch: null,
    receivedAt: now,
    seq,
  }),
  activationCompleted: (
    seq: number,
    closure: string,
    now: Timestamp,
  ): RemoteEventOf<'ActivationCompleted'> => ({
    type: 'RemoteActivationCompleted',
    observedCurrentClosure: closure,
    exitCode: 0,
    completedAt: now,
    seq,
  }),
  converged: (seq: number, closure: string, now: Timestamp): RemoteEventOf<'Converged'> => ({
    type: 'RemoteConverged',
    convergedAt: now,
    currentClosure: closure,
    seq,
  }),
  rollbackComplete: (seq: number, closure: string, now: Timestamp): RemoteEventOf<'RollbackComplete'> => ({
    type: 'RemoteRollbackComplete',
    revertedToClosure: closure,
    exitCode: 0,
    completedAt: now,
    seq,
  }),
};

/** Soak over at `now`? A record without `soakDueAt` has no soak to wait for (spec §2.7 invariant 2). */
function soakDue(record: HostRolloutSnapshot, now: Timestamp): SynthesisStop | null {
  const due = record.context.soakDueAt;
  return due !== null && toMillis(due) > toMillis(now) ? { reason: 'soak-not-due', soakDueAt: due } : null;
}

interface Chain {
  record: HostRolloutSnapshot;
  recoveryCase: RecoveryCase;
  /** Next event to apply given the record so far, or a stop; null when the chain is complete. */
  next: (current: HostRolloutSnapshot, seq: number) => RemoteEvent | SynthesisStop | null;
}

function isStop(x: RemoteEvent | SynthesisStop): x is SynthesisStop {
  return 'reason' in x;
}

/** Steps a chain event by event; each event's seq is the record's last applied seq + 1 (§2.9). */
function runChain({ record, recoveryCase, next }: Chain): RecordRecovery | null {
  const ids = { hostname: record.context.hostname, rolloutId: record.context.rolloutId };
  const from = hostStateOf(record);
  let current = record;
  const events: RemoteEvent[] = [];
  const effects: HostEffect[] = [];
  let stop: SynthesisStop | null = null;
  for (;;) {
    const step = next(current, current.context.lastEventSeq + 1);
    if (step === null) break;
    if (isStop(step)) {
      stop = step;
      break;
    }
    const r = stepHostRollout(current, step);
    if (!r.ok) {
      stop = { reason: 'refused', event: step.type, error: r.error };
      break;
    }
    current = r.snapshot;
    events.push(step);
    effects.push(...r.effects);
  }
  if (events.length === 0) {
    return stop === null ? null : { kind: 'held', ...ids, case: recoveryCase, state: from, stop };
  }
  return {
    kind: 'advanced',
    ...ids,
    case: recoveryCase,
    from,
    to: hostStateOf(current),
    events,
    effects,
    snapshot: current,
    stop,
  };
}

/** The §7.4 case table for one record, or null when none applies. */
function chainFor(
  record: HostRolloutSnapshot,
  current: string,
  now: Timestamp,
  gatesAllow: GateCheck,
): Chain | RecordRecovery | null {
  const c = record.context;
  const ids = { hostname: c.hostname, rolloutId: c.rolloutId };
  const state = hostStateOf(record);
  const onTarget = c.targetClosure === current;
  switch (state) {
    case 'Activating':
    case 'Deferred':
      // Crash scenario 3a (the switch took, the agent died before reporting) or the operator
      // rebooted into the staged closure. The agent soaks from the post-synthesis snapshot, so the
      // CP stops at Soaking and lets the agent converge.
      if (!onTarget) return null;
      return {
        record,
        recoveryCase: 'activation-completed',
        next: (r, seq) => (hostStateOf(r) === state ? ev.activationCompleted(seq, current, now) : null),
      };
    case 'Pending': {
      if (!onTarget) return null;
      // A fleet bump that leaves a host's closure unchanged opens a Pending record for a host already
      // on target; fast-forwarding it past a blocking gate would bypass channel-edge and wave
      // ordering (RFC-0002 §4.3). Blocked records stay Pending until a later heartbeat.
      const v = verdict(gatesAllow(record));
      if (!v.allow) {
        return {
          kind: 'held',
          ...ids,
          case: 'pending-chain',
          state,
          stop: { reason: 'gates-block', detail: v.reason },
        };
      }
      return {
        record,
        recoveryCase: 'pending-chain',
        next: (r, seq) => {
          switch (hostStateOf(r)) {
            case 'Pending':
              return ev.dispatchAck(seq, now);
            case 'Activating':
              return ev.activationCompleted(seq, current, now);
            case 'Soaking':
              // Read soakDueAt after activation completion: the chart may re-anchor it there (G8).
              // Converging at `now` only once the soak is due keeps convergedAt ≤ now (G12).
              return soakDue(r, now) ?? ev.converged(seq, current, now);
            default:
              return null;
          }
        },
      };
    }
    case 'Soaking':
      // The original leaves every Soaking record to the agent. Only a CP-driven soak has no agent
      // behind it (see isCpOwnedSoak); converging an agent's soak here would skip its probes.
      if (!onTarget || !isCpOwnedSoak(record)) return null;
      return {
        record,
        recoveryCase: 'soak-elapsed',
        next: (r, seq) =>
          hostStateOf(r) === 'Soaking' ? (soakDue(r, now) ?? ev.converged(seq, current, now)) : null,
      };
    case 'Failed':
      // The rollback's switch restarted the agent before it reported RollbackCompleted. Only when a
      // rollback was ordered (spec §7.4 hazard): under `halt`, or after a Deferred failure, a host
      // still on its pre-dispatch closure never switched, and the record must stay Failed (it halts
      // the rollout) rather than become Reverted and quarantine a closure nobody rolled back from.
      if (c.policyApplied !== 'rollback-and-halt' || c.currentClosureAtDispatch !== current) return null;
      return {
        record,
        recoveryCase: 'rollback-completed',
        next: (r, seq) => (hostStateOf(r) === 'Failed' ? ev.rollbackComplete(seq, current, now) : null),
      };
    default:
      return null;
  }
}

/**
 * Runs the §7.4 case table over a host's records. Idempotent: once a record advanced, its case no
 * longer matches, so a repeated heartbeat synthesises nothing new.
 */
export function synthesizeFromHeartbeat(input: SynthesizeFromHeartbeatInput): SynthesisResult {
  // §7.4 asks for rollout_id order (the original's query had no ORDER BY).
  const records = [...input.records].sort((a, b) => compareIds(a.context.rolloutId, b.context.rolloutId));
  const events: SynthesizedEvent[] = [];
  const recoveries: RecordRecovery[] = [];
  const snapshots: HostRolloutSnapshot[] = [];
  for (const record of records) {
    const current = input.currentClosure;
    const matched =
      current === null || !isActive(hostStateOf(record))
        ? null
        : chainFor(record, current, input.now, input.gatesAllow);
    if (matched === null) {
      snapshots.push(record);
      continue;
    }
    const outcome = 'kind' in matched ? matched : runChain(matched);
    if (outcome === null) {
      snapshots.push(record);
      continue;
    }
    recoveries.push(outcome);
    if (outcome.kind === 'advanced') {
      snapshots.push(outcome.snapshot);
      for (const event of outcome.events) {
        events.push({ hostname: outcome.hostname, rolloutId: outcome.rolloutId, event });
      }
    } else {
      snapshots.push(record);
    }
  }
  return { events, recoveries, snapshots };
}

/** Code-unit order, as PostgreSQL's `C` collation would give; independent of the host's locale. */
export function compareIds(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
