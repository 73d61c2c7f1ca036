// Recovery properties (spec §7.4, §7.17): drive a host through a random lifecycle (the truth, as the
// agent reported it, and the closure the host really runs at the end). The CP either lost the tail
// of those reports (a lagging record) or lost everything (database wiped: a fresh Pending record).
// One heartbeat with the real closure must rebuild a record consistent with that closure, without
// any effect that would switch the host, and without a convergedAt in the future.
import { fc, test } from '@fast-check/vitest';
import { describe, expect } from 'vitest';
import { isCpOwnedSoak, synthesizeFromHeartbeat } from '../../cp/recovery/index.ts';
import type { RemoteEvent } from '../../machines/index.ts';
import { type HostRolloutSnapshot, hostStateOf, stepHostRollout } from '../../machines/index.ts';
import type { OnHealthFailure } from '../../proto/index.ts';
import {
  activatingEffects,
  allowAll,
  at,
  drive,
  PRIOR,
  pending,
  remote,
  TARGET,
} from './support/fixtures.ts';

interface Truth {
  policy: OnHealthFailure;
  soakDueSecs: number;
  /** What the agent reported, in order. */
  events: RemoteEvent[];
  /** The closure the host runs after the last of them (and after any unreported switch). */
  closure: string;
  /** Seconds after T0 of the last thing that happened on the host. */
  endSecs: number;
}

/** Random host lifecycles along every branch of the chart, with the unreported crash points of §6.15. */
const truthArb: fc.Arbitrary<Truth> = fc
  .record({
    policy: fc.constantFrom<OnHealthFailure>('halt', 'rollback-and-halt'),
    soakDueSecs: fc.integer({ min: 0, max: 900 }),
    branch: fc.constantFrom(
      'pending',
      'activating',
      'deferred',
      'soaking',
      'converged',
      'activation-failed',
      'sustained-failed',
      'reverted',
    ),
    // Unreported outcomes: did the switch take before the agent died? Did the rollback run?
    switchTook: fc.boolean(),
    rebooted: fc.boolean(),
    rolledBack: fc.boolean(),
    probes: fc.array(fc.constantFrom<'pass' | 'fail'>('pass', 'fail'), { maxLength: 3 }),
  })
  .map(({ policy, soakDueSecs, branch, switchTook, rebooted, rolledBack, probes }): Truth => {
    const events: RemoteEvent[] = [];
    let seq = 0;
    let t = 0;
    const push = (make: (seq: number, time: string) => RemoteEvent) => {
      t += 5;
      events.push(make(++seq, at(t)));
    };
    const done = (closure: string): Truth => ({ policy, soakDueSecs, events, closure, endSecs: t });
    if (branch === 'pending') return done(PRIOR);
    push((s, time) => remote.ack(s, PRIOR, time));
    push((s, time) => remote.started(s, time));
    if (branch === 'activating') return done(switchTook ? TARGET : PRIOR);
    if (branch === 'deferred') {
      push((s, time) => remote.deferred(s, time));
      return done(rebooted ? TARGET : PRIOR);
    }
    if (branch === 'activation-failed') {
      push((s, time) => remote.activationFailed(s, time));
      // A rollback is fired under rollback-and-halt; under halt the switch may or may not have taken.
      return done(
        policy === 'rollback-and-halt' ? (rolledBack ? PRIOR : TARGET) : switchTook ? TARGET : PRIOR,
      );
    }
    push((s, time) => remote.completed(s, TARGET, time));
    for (const status of probes) push((s, time) => remote.probe(s, status, time));
    if (branch === 'soaking') return done(TARGET);
    if (branch === 'converged') {
      if (probes.at(-1) === 'fail') push((s, time) => remote.probe(s, 'pass', time));
      t = Math.max(t, soakDueSecs);
      push((s, time) => remote.converged(s, time));
      return done(TARGET);
    }
    push((s, time) => remote.failed(s, policy, time));
    if (branch === 'reverted' && policy === 'rollback-and-halt') {
      push((s, time) => remote.rolledBack(s, PRIOR, time));
      return done(PRIOR);
    }
    return done(policy === 'rollback-and-halt' && rolledBack ? PRIOR : TARGET);
  });

function recordFor(truth: Truth): HostRolloutSnapshot {
  return pending({ onHealthFailure: truth.policy, soakDueAt: at(truth.soakDueSecs) });
}

/** Shared checks on one heartbeat's synthesis; returns the rebuilt record. */
function heartbeat(record: HostRolloutSnapshot, closure: string, nowSecs: number): HostRolloutSnapshot {
  const now = at(nowSecs);
  const r = synthesizeFromHeartbeat({
    records: [record],
    currentClosure: closure,
    now,
    gatesAllow: allowAll,
  });
  const after = r.snapshots[0];
  if (after === undefined) return expect.fail('record lost');
  let seq = record.context.lastEventSeq;
  for (const rec of r.recoveries) {
    if (rec.kind !== 'advanced') continue;
    // Nothing synthesised switches the host: no re-activation of a host already on its target.
    expect(activatingEffects(rec.effects)).toEqual([]);
    // Seqs are last+1, +2, … and the chain replays through the chart to the same record.
    expect(rec.events.map((e) => e.seq)).toEqual(rec.events.map((_, i) => seq + i + 1));
    let replayed = record;
    for (const event of rec.events) {
      const step = stepHostRollout(replayed, event);
      if (!step.ok) return expect.fail(JSON.stringify(step.error));
      replayed = step.snapshot;
    }
    expect(replayed.context).toEqual(after.context);
    seq += rec.events.length;
  }
  // G12: nothing stamps a convergence after the CP's clock.
  if (after.context.convergedAt !== null && record.context.convergedAt === null) {
    expect(Date.parse(after.context.convergedAt)).toBeLessThanOrEqual(Date.parse(now));
  }
  // Idempotent: the same heartbeat again changes nothing.
  expect(
    synthesizeFromHeartbeat({ records: [after], currentClosure: closure, now, gatesAllow: allowAll }).events,
  ).toEqual([]);
  return after;
}

/** The rebuilt state is consistent with the host's real closure. */
function expectConsistent(
  before: HostRolloutSnapshot,
  after: HostRolloutSnapshot,
  closure: string,
  nowSecs: number,
) {
  const state = hostStateOf(after);
  if (closure === TARGET) {
    // Never left Pending to be dispatched (and re-activated) again, never waiting on an activation
    // that already happened.
    expect(['Soaking', 'Converged', 'Failed']).toContain(state);
    if (state === 'Failed') expect(hostStateOf(before)).toBe('Failed');
    if (state === 'Converged') expect(after.context.currentClosure).toBe(TARGET);
    if (isCpOwnedSoak(after))
      expect(Date.parse(after.context.soakDueAt ?? '')).toBeGreaterThan(Date.parse(at(nowSecs)));
  } else {
    expect(state).not.toBe('Converged');
    if (state === 'Reverted') expect(after.context.currentClosure).toBe(closure);
    // A Failed record whose host is back on its pre-dispatch closure after an ordered rollback.
    const c = before.context;
    if (
      hostStateOf(before) === 'Failed' &&
      c.policyApplied === 'rollback-and-halt' &&
      c.currentClosureAtDispatch === closure
    ) {
      expect(state).toBe('Reverted');
    } else {
      expect(after).toBe(before);
    }
  }
}

describe('heartbeat recovery properties', () => {
  test.prop([truthArb, fc.nat(), fc.integer({ min: 0, max: 1500 })], { numRuns: 400 })(
    'a lagging CP record (lost the tail of the reports) is rebuilt consistent with the closure',
    (truth, cut, wait) => {
      const seen = truth.events.slice(0, truth.events.length === 0 ? 0 : cut % (truth.events.length + 1));
      const before = drive(recordFor(truth), seen);
      const nowSecs = truth.endSecs + wait;
      const after = heartbeat(before, truth.closure, nowSecs);
      expectConsistent(before, after, truth.closure, nowSecs);
    },
  );

  test.prop(
    [
      truthArb,
      fc.integer({ min: 0, max: 3000 }),
      fc.integer({ min: 0, max: 600 }),
      fc.option(fc.integer({ min: 0, max: 30 })),
      fc.boolean(),
    ],
    { numRuns: 400 },
  )(
    'after a database wipe, one heartbeat rebuilds the re-opened record; a later one finishes the soak',
    (truth, wait, openedAgo, soakMin, reanchor) => {
      const nowSecs = truth.endSecs + wait;
      const openedSecs = nowSecs - openedAgo;
      // The new CP opened the rollout again: a fresh Pending record, seq 0 (spec §7.17 step 2).
      const before = pending({
        onHealthFailure: truth.policy,
        dispatchedAt: at(openedSecs),
        soakDueAt: soakMin === null ? null : at(openedSecs + soakMin * 60),
        soakMinutes: reanchor ? soakMin : null,
      });
      const after = heartbeat(before, truth.closure, nowSecs);
      expectConsistent(before, after, truth.closure, nowSecs);
      if (truth.closure !== TARGET) {
        // Not on target (never switched, or rolled back): stays Pending and is dispatched normally.
        expect(hostStateOf(after)).toBe('Pending');
        return;
      }
      expect(['Converged', 'Soaking']).toContain(hostStateOf(after));
      if (hostStateOf(after) === 'Soaking') {
        const due = Date.parse(after.context.soakDueAt ?? '');
        const laterSecs = (due - Date.parse(at(0))) / 1000 + 1;
        const final = heartbeat(after, truth.closure, laterSecs);
        expect(hostStateOf(final)).toBe('Converged');
      }
    },
  );
});
