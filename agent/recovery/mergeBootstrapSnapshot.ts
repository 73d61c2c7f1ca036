// Bootstrap snapshot rehydration on the agent (spec §6.16, `BootstrapHost`) with the §10 G11 fixes.
// Snapshots arrive on every heartbeat that carries no rollout_id — every heartbeat of a v0.2-style
// agent — so merging must be a no-op for a record that is already in step with the CP:
// - agent-local fields (probes, failure timestamps, …) are never taken from the wire, which lacks
//   them (§7.6); preserving `probeFailureFirstAt` keeps the sustained-failure timer running;
// - `lastEventSeq` never goes down (the CP may lag while events sit in the outbound queue; adopting
//   its lower cursor would make the agent reuse seqs the CP later drops as duplicates, §2.9), and
//   it does go up after CP synthesis ran the CP's cursor ahead;
// - a warm record's state only moves forward along the chart (the CP is "ahead" in the lifecycle);
// - rehydration effects (a probe-runner reset) run only when the record was absent or its state or
//   target changed, not every 60 s.
import {
  type HostEffect,
  type HostRolloutContext,
  type HostRolloutSnapshot,
  hostRolloutMachine,
  hostStateOf,
  newPendingRecord,
  rehydrationEffects,
} from '../../machines/index.ts';
import type { HostRolloutWireSnapshot, HostState, OnHealthFailure } from '../../proto/index.ts';

/** Record fields the wire does not carry, needed only when the snapshot creates the record. */
export interface BootstrapPolicy {
  /** The channel's rollout policy (`onHealthFailure`), from the agent's cached manifest. */
  onHealthFailure: OnHealthFailure;
  /** Re-anchor the soak at activation completion (G8); null keeps the CP's `soakDueAt`. */
  soakMinutes?: number | null;
  /** The host's wave in the rollout; informational. */
  wave?: number;
}

export type BootstrapMergeOutcome =
  /** No local record: built from the snapshot. */
  | 'created'
  /** Same rollout, another target closure: rebuilt from the snapshot, local probe state dropped. */
  | 'retargeted'
  /** The CP is ahead in the lifecycle (e.g. it synthesised a completion): state adopted. */
  | 'advanced'
  /** Same state: wire fields refreshed, nothing restarted. */
  | 'refreshed'
  /** The CP is behind or on another branch: the local record stands (only the seq cursor may rise). */
  | 'kept-local';

export type MergeBootstrapResult =
  | {
      ok: true;
      snapshot: HostRolloutSnapshot;
      outcome: BootstrapMergeOutcome;
      /** Whether `effects` must run (spec §2.11); false means the probe runners keep going. */
      rehydrate: boolean;
      effects: HostEffect[];
    }
  | { ok: false; error: { code: 'SnapshotMismatch'; message: string } };

/** States reachable from each state, derived from the chart itself so the two cannot drift. */
const REACHABLE: ReadonlyMap<HostState, ReadonlySet<HostState>> = (() => {
  const direct = new Map<HostState, Set<HostState>>();
  for (const [state, node] of Object.entries(hostRolloutMachine.states)) {
    const next = new Set<HostState>();
    for (const defs of node.transitions.values()) {
      for (const def of defs)
        for (const t of def.target ?? []) if (t.key !== state) next.add(t.key as HostState);
    }
    direct.set(state as HostState, next);
  }
  const closure = new Map<HostState, ReadonlySet<HostState>>();
  for (const start of direct.keys()) {
    const seen = new Set<HostState>();
    const todo = [...(direct.get(start) ?? [])];
    for (let s = todo.pop(); s !== undefined; s = todo.pop()) {
      if (seen.has(s)) continue;
      seen.add(s);
      todo.push(...(direct.get(s) ?? []));
    }
    closure.set(start, seen);
  }
  return closure;
})();

/** Is `to` strictly later than `from` in the host lifecycle (reachable by chart transitions)? */
export function isLifecycleAhead(from: HostState, to: HostState): boolean {
  return REACHABLE.get(from)?.has(to) === true;
}

/**
 * The wire's fields over a base record. A null on the wire does not erase a local value: a
 * CP-synthesised dispatch ack leaves `currentClosureAtDispatch` null on the CP, while the agent
 * holds the real rollback target.
 */
function withWireFields(
  base: HostRolloutContext,
  w: HostRolloutWireSnapshot,
  seq: number,
): HostRolloutContext {
  return {
    ...base,
    channel: w.channel,
    targetClosure: w.targetClosure,
    dispatchedAt: w.dispatchedAt,
    currentClosureAtDispatch: w.currentClosureAtDispatch ?? base.currentClosureAtDispatch,
    currentClosure: w.currentClosure ?? base.currentClosure,
    dispatchAckedAt: w.dispatchAckedAt ?? base.dispatchAckedAt,
    activationStartedAt: w.activationStartedAt ?? base.activationStartedAt,
    activationCompletedAt: w.activationCompletedAt ?? base.activationCompletedAt,
    soakDueAt: w.soakDueAt ?? base.soakDueAt,
    lastEventSeq: seq,
  };
}

function resolve(state: HostState, context: HostRolloutContext): HostRolloutSnapshot {
  return hostRolloutMachine.resolveState({ value: state, context });
}

function rehydrated(
  snapshot: HostRolloutSnapshot,
  outcome: BootstrapMergeOutcome,
): Extract<MergeBootstrapResult, { ok: true }> {
  return { ok: true, snapshot, outcome, rehydrate: true, effects: rehydrationEffects(snapshot) };
}

export function mergeBootstrapSnapshot(
  existing: HostRolloutSnapshot | undefined,
  wire: HostRolloutWireSnapshot,
  policy: BootstrapPolicy,
): MergeBootstrapResult {
  const fresh = (seq: number): HostRolloutContext =>
    withWireFields(
      newPendingRecord({
        rolloutId: wire.rolloutId,
        hostname: wire.hostname,
        channel: wire.channel,
        targetClosure: wire.targetClosure,
        dispatchedAt: wire.dispatchedAt,
        soakDueAt: wire.soakDueAt,
        onHealthFailure: policy.onHealthFailure,
        soakMinutes: policy.soakMinutes ?? null,
        wave: policy.wave ?? 0,
      }),
      wire,
      seq,
    );

  if (existing === undefined) return rehydrated(resolve(wire.state, fresh(wire.lastEventSeq)), 'created');

  const local = existing.context;
  if (local.rolloutId !== wire.rolloutId || local.hostname !== wire.hostname) {
    return {
      ok: false,
      error: {
        code: 'SnapshotMismatch',
        message: `snapshot for ${wire.hostname} ${wire.rolloutId} cannot merge into ${local.hostname} ${local.rolloutId}`,
      },
    };
  }
  const seq = Math.max(local.lastEventSeq, wire.lastEventSeq);
  const localState = hostStateOf(existing);

  // A different target under the same rollout id is a different record: nothing local applies.
  if (local.targetClosure !== wire.targetClosure) {
    return rehydrated(resolve(wire.state, fresh(seq)), 'retargeted');
  }
  if (wire.state === localState) {
    const snapshot = resolve(localState, withWireFields(local, wire, seq));
    return { ok: true, snapshot, outcome: 'refreshed', rehydrate: false, effects: [] };
  }
  if (isLifecycleAhead(localState, wire.state)) {
    return rehydrated(resolve(wire.state, withWireFields(local, wire, seq)), 'advanced');
  }
  const snapshot =
    seq === local.lastEventSeq ? existing : resolve(localState, { ...local, lastEventSeq: seq });
  return { ok: true, snapshot, outcome: 'kept-local', rehydrate: false, effects: [] };
}
