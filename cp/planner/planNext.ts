// `plan_next` (spec §4.3): one pure plan tick. Open what the manifests name, advance waves, then
// decide every Pending, un-acknowledged host of every current rollout in (rolloutId, hostname)
// order, so the same input always yields the same actions in the same order.
import { evaluateForDispatch } from './evaluateForDispatch.ts';
import { openPhase } from './openRollouts.ts';
import { buildPlanView, byString, type PlanView } from './planView.ts';
import {
  DEFAULT_REQUEUE_UNACKED_AFTER_MS,
  type HostRecordSummary,
  type OutstandingDispatch,
  type PlanAction,
  type PlannerInput,
  type PlannerOptions,
  type QueueCause,
  type WithdrawDispatchAction,
} from './types.ts';

// NaN-safe on purpose: a malformed timestamp must not throw out of a tick. An unreadable `takenAt`
// compares as long ago (re-queue); an unreadable `now` times nothing out.
const ms = (ts: string): number => {
  const v = Date.parse(ts);
  return Number.isNaN(v) ? 0 : v;
};

/** Whether a host that passed every gate needs a QueueDispatch this tick, and why. */
function queueCause(
  slot: OutstandingDispatch | undefined,
  record: HostRecordSummary,
  nowMs: number,
  requeueAfterMs: number,
): QueueCause | null {
  if (slot === undefined) return 'new';
  const soakChanged = record.soakDueAt !== null && ms(slot.soakDueAt) !== ms(record.soakDueAt);
  if (slot.targetClosure !== record.targetClosure || soakChanged) return 'refresh';
  // Still waiting in the queue: the host simply has not polled. Re-queueing would change nothing.
  if (slot.takenAt === null) return null;
  // Taken and never acknowledged: the response was lost or the agent died before acking (§5.6).
  return nowMs - ms(slot.takenAt) >= requeueAfterMs ? 'unacked-timeout' : null;
}

export function planNext(input: PlannerInput, options: PlannerOptions = {}): PlanAction[] {
  const requeueAfterMs = options.requeueUnackedAfterMs ?? DEFAULT_REQUEUE_UNACKED_AFTER_MS;
  const nowMs = Date.parse(input.now);
  const view = buildPlanView(input);
  const actions: PlanAction[] = [...view.notices, ...openPhase(view)];
  for (const event of view.waveEvents) actions.push({ type: 'RolloutEvent', event });

  const tickBudgets = new Map<string, number>();
  const tickHosts = new Set<string>();
  const tick = { budgets: tickBudgets, hosts: tickHosts };
  for (const [rolloutId, rollout] of view.planned) {
    if (rollout.summary.terminalAt !== null) continue;
    const pending = [...rollout.records.values()]
      .filter((r) => r.state === 'Pending' && r.dispatchAckedAt === null)
      .sort((a, b) => byString(a.hostname, b.hostname));
    for (const record of pending) {
      const host = record.hostname;
      const slot = rollout.slots.get(host);
      const block = evaluateForDispatch(view, record, tick);
      if (block !== null) {
        actions.push({ type: 'DeferDispatch', ...block });
        // A row still waiting in the queue would hand the host a dispatch a gate now forbids.
        if (slot !== undefined) actions.push({ type: 'WithdrawDispatch', host, rolloutId, cause: 'blocked' });
        continue;
      }
      tickHosts.add(host);
      if (slot === undefined) {
        // Each budget group counts the host once, however many of the manifest's budgets share it.
        const keys = new Set<string>();
        for (const b of rollout.budgets) if (b.hosts === null || b.hosts.has(host)) keys.add(b.key);
        for (const key of keys) tickBudgets.set(key, (tickBudgets.get(key) ?? 0) + 1);
      }
      const cause = queueCause(slot, record, nowMs, requeueAfterMs);
      if (cause === null) continue;
      actions.push({
        type: 'QueueDispatch',
        host,
        rolloutId,
        targetClosure: record.targetClosure,
        soakDueAt: record.soakDueAt ?? input.now,
        cause,
      });
    }
  }

  actions.push(...leftoverDispatches(input, view));
  return actions;
}

/** Outstanding dispatches no Pending record of a current rollout owns any more. */
function leftoverDispatches(input: PlannerInput, view: PlanView): WithdrawDispatchAction[] {
  const out: WithdrawDispatchAction[] = [];
  const sorted = [...input.dispatches].sort(
    (a, b) => byString(a.rolloutId, b.rolloutId) || byString(a.hostname, b.hostname),
  );
  let previous: OutstandingDispatch | undefined;
  for (const d of sorted) {
    // (hostname, rolloutId) is the queue's primary key; a repeated pair is one row.
    if (previous !== undefined && previous.rolloutId === d.rolloutId && previous.hostname === d.hostname)
      continue;
    previous = d;
    const rollout = view.planned.get(d.rolloutId);
    const record = rollout?.records.get(d.hostname);
    if (rollout === undefined || record === undefined || rollout.summary.terminalAt !== null) {
      out.push({ type: 'WithdrawDispatch', host: d.hostname, rolloutId: d.rolloutId, cause: 'stale' });
    } else if (!rollout.slots.has(d.hostname)) {
      out.push({ type: 'WithdrawDispatch', host: d.hostname, rolloutId: d.rolloutId, cause: 'acked' });
    }
  }
  return out;
}
