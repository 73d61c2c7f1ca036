// Property tests for the host-rollout chart: the spec §2.10 invariants over random event walks
// (legal and illegal, fresh and stale seqs), and agent/CP parity over random legal walks.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createActor, transition } from 'xstate';
import {
  createHostRollout,
  HOST_EVENT_TYPES,
  type HostEffect,
  type HostRolloutEvent,
  type HostRolloutInput,
  type HostRolloutSnapshot,
  hostRolloutMachine,
  hostStateOf,
  isLocalEvent,
  kindOf,
  type LocalEvent,
  persistHostRollout,
  restoreHostRollout,
  stepHostRollout,
  toAgentEvent,
  toRemoteEvent,
} from '../../machines/index.ts';
import { HOST_STATES } from '../../proto/index.ts';
import { at, TARGET } from './support/hostFixtures.ts';

const RUNS = { numRuns: 300 };

/** One random decision per step; the event is built from it and the current record. */
const choiceArb = fc.record({
  type: fc.constantFrom(...HOST_EVENT_TYPES),
  seqDelta: fc.integer({ min: -2, max: 3 }),
  time: fc.integer({ min: 0, max: 3600 }),
  wrongClosure: fc.integer({ min: 0, max: 4 }).map((n) => n === 0),
  status: fc.constantFrom('pass', 'fail'),
  mode: fc.constantFrom('enforce', 'observe', 'disabled'),
  probe: fc.constantFrom('nginx', 'db', 'evidence'),
  policy: fc.constantFrom('halt', 'rollback-and-halt'),
  ccNull: fc.boolean(),
  // Most steps pick among the events the current state handles, so walks get deep; the rest are
  // uniformly random and mostly illegal.
  preferLegal: fc.integer({ min: 0, max: 3 }).map((n) => n > 0),
  legalPick: fc.nat(),
});
type Choice = typeof choiceArb extends fc.Arbitrary<infer T> ? T : never;

const inputArb = fc.record({
  onHealthFailure: fc.constantFrom('halt', 'rollback-and-halt'),
  soakMinutes: fc.option(fc.integer({ min: 0, max: 30 }), { nil: null }),
  soakDueAt: fc.option(fc.integer({ min: 0, max: 1200 }).map(at), { nil: null }),
});

function makeInput(i: {
  onHealthFailure: 'halt' | 'rollback-and-halt';
  soakMinutes: number | null;
  soakDueAt: string | null;
}): HostRolloutInput {
  return {
    rolloutId: 'stable@r1',
    hostname: 'web-01',
    channel: 'stable',
    targetClosure: TARGET,
    dispatchedAt: at(0),
    ...i,
  };
}

function typeFor(c: Choice, state: string): Choice['type'] {
  const handled = [...(hostRolloutMachine.states[state]?.transitions.keys() ?? [])] as Choice['type'][];
  if (!c.preferLegal || handled.length === 0) return c.type;
  return handled[c.legalPick % handled.length] as Choice['type'];
}

function buildEvent(c: Choice, seq: number): HostRolloutEvent {
  const t = at(c.time);
  const closure = c.wrongClosure ? 'other-closure' : TARGET;
  const cc = c.ccNull ? null : 'prior-closure';
  switch (kindOf(c.type)) {
    case 'DispatchAck':
      return c.type === 'LocalActivate'
        ? {
            type: 'LocalActivate',
            seq,
            currentClosureAtDispatch: cc,
            receivedAt: t,
            targetClosure: TARGET,
            soakDueAt: null,
          }
        : { type: 'RemoteDispatchAck', seq, currentClosureAtDispatch: cc, receivedAt: t };
    case 'ActivationStarted':
      return { type: c.type, seq, startedAt: t, switchMethod: 'switch' } as HostRolloutEvent;
    case 'ActivationCompleted':
      return {
        type: c.type,
        seq,
        observedCurrentClosure: closure,
        exitCode: 0,
        completedAt: t,
      } as HostRolloutEvent;
    case 'ActivationDeferred':
      return { type: c.type, seq, component: 'kernel', deferredAt: t } as HostRolloutEvent;
    case 'ActivationFailed':
      return { type: c.type, seq, exitCode: 1, stderrTail: 'x', failedAt: t } as HostRolloutEvent;
    case 'ProbeTopologyDeclared':
      return {
        type: c.type,
        seq,
        probes: [{ probeName: c.probe, kind: 'cmd', mode: c.mode }],
        declaredAt: t,
      } as HostRolloutEvent;
    case 'ProbeObservedFirst':
      return { type: c.type, seq, probeName: c.probe, mode: c.mode, observedAt: t } as HostRolloutEvent;
    case 'ProbeResult':
      return {
        type: c.type,
        seq,
        probeName: c.probe,
        mode: c.mode,
        status: c.status,
        observedAt: t,
        failureReason: c.status === 'fail' ? 'down' : null,
        subResults: null,
      } as HostRolloutEvent;
    case 'ProbeFailureFirst':
      return { type: c.type, seq, probeName: c.probe, mode: c.mode, firstFailedAt: t } as HostRolloutEvent;
    case 'Failed':
      return {
        type: c.type,
        seq,
        failedAt: t,
        sustainedDurationSecs: 120,
        failingProbes: [c.probe],
        policyApplied: c.policy,
      } as HostRolloutEvent;
    case 'Converged':
      return { type: c.type, seq, convergedAt: t, currentClosure: closure } as HostRolloutEvent;
    case 'RollbackComplete':
      return {
        type: c.type,
        seq,
        revertedToClosure: 'prior-closure',
        exitCode: 0,
        completedAt: t,
      } as HostRolloutEvent;
    case 'RollbackFailed':
      return {
        type: c.type,
        seq,
        closure: 'prior-closure',
        exitCode: 3,
        stderrTail: 'x',
        failedAt: t,
      } as HostRolloutEvent;
  }
}

interface Walk {
  snapshots: HostRolloutSnapshot[];
  effects: HostEffect[][];
  results: string[];
}

/** Runs every choice against the record, checking each step's invariants as it goes. */
function walk(input: HostRolloutInput, choices: readonly Choice[]): Walk {
  let s = createHostRollout(input);
  const out: Walk = { snapshots: [s], effects: [], results: [] };
  for (const c of choices) {
    const last = s.context.lastEventSeq;
    const seq = Math.max(0, last + c.seqDelta);
    const from = hostStateOf(s);
    const event = buildEvent({ ...c, type: typeFor(c, from) }, seq);
    reachedCount.set(from, (reachedCount.get(from) ?? 0) + 1);
    const r = stepHostRollout(s, event);
    const handled = hostRolloutMachine.states[from]?.transitions.has(event.type) === true;

    if (!r.ok) {
      out.results.push(r.error.code);
      // Invariants 1, 2, 7: refusals are classified exactly, and the chart on its own (a live
      // actor, no wrapper) would not move either.
      if (seq <= last) expect(r.error.code).toBe('SeqRegression');
      else if (!handled) expect(r.error.code).toBe('IllegalForState');
      else expect(r.error.code).toBe('Invariant');
      expect(transition(hostRolloutMachine, s, event)[0]).toBe(s);
      out.effects.push([]);
      out.snapshots.push(s);
      continue;
    }
    out.results.push('ok');
    expect(seq).toBeGreaterThan(last);
    expect(handled).toBe(true);
    expect(from === 'Converged' || from === 'Reverted').toBe(false);
    const next = r.snapshot;
    const ctx = next.context;
    const to = hostStateOf(next);
    // Invariant 8.
    expect(ctx.lastEventSeq).toBe(seq);
    // Invariants 3, 4, 5.
    if (to === 'Converged') {
      expect(ctx.currentClosure).toBe(ctx.targetClosure);
      if (ctx.soakDueAt !== null)
        expect(Date.parse(ctx.convergedAt ?? '')).toBeGreaterThanOrEqual(Date.parse(ctx.soakDueAt));
      for (const p of Object.values(ctx.probes)) if (p.mode === 'enforce') expect(p.status).toBe('pass');
    }
    // Invariant 9.
    if (kindOf(event.type) === 'ActivationCompleted') {
      expect(ctx.probes).toEqual({});
      expect(r.effects.some((e) => e.type === 'LocalResetProbeCache')).toBe(isLocalEvent(event));
    }
    // Invariant 10.
    const quarantines = r.effects.filter((e) => e.type === 'RemoteInsertQuarantine');
    expect(quarantines).toEqual(
      event.type === 'RemoteRollbackComplete'
        ? [{ type: 'RemoteInsertQuarantine', channel: 'stable', closure: TARGET }]
        : [],
    );
    // A state change records exactly one transition with matching ends; a self-step records none.
    const records = r.effects.filter((e) => e.type === 'RecordTransition');
    expect(records).toEqual(from === to ? [] : [expect.objectContaining({ from, to })]);
    // Each side only produces its own effects.
    const sides = new Set(
      r.effects.map((e) => (e.type.startsWith('Local') ? 'L' : e.type.startsWith('Remote') ? 'R' : '-')),
    );
    expect(sides.has(isLocalEvent(event) ? 'R' : 'L')).toBe(false);
    out.effects.push(r.effects);
    out.snapshots.push(next);
    s = next;
  }
  return out;
}

const reachedCount = new Map<string, number>();

describe('host-rollout invariants (spec §2.10)', () => {
  it('hold over random walks of legal and illegal events', () => {
    fc.assert(
      fc.property(
        inputArb,
        fc.array(choiceArb, { minLength: 10, maxLength: 60, size: 'max' }),
        (i, choices) => {
          walk(makeInput(i), choices);
        },
      ),
      RUNS,
    );
    // The generator must actually explore: every state is stepped from many times.
    for (const state of HOST_STATES) expect(reachedCount.get(state) ?? 0).toBeGreaterThan(20);
  });

  it('step is deterministic: the same walk twice gives identical records and effects', () => {
    fc.assert(
      fc.property(inputArb, fc.array(choiceArb, { maxLength: 30 }), (i, choices) => {
        const a = walk(makeInput(i), choices);
        const b = walk(makeInput(i), choices);
        expect(b.snapshots.map(persistHostRollout)).toEqual(a.snapshots.map(persistHostRollout));
        expect(b.effects).toEqual(a.effects);
        expect(b.results).toEqual(a.results);
      }),
      { numRuns: 100 },
    );
  });

  it('terminal states absorb every event', () => {
    fc.assert(
      fc.property(inputArb, fc.array(choiceArb, { maxLength: 40 }), choiceArb, (i, choices, extra) => {
        const w = walk(makeInput(i), choices);
        const s = w.snapshots.at(-1) as HostRolloutSnapshot;
        if (hostStateOf(s) !== 'Converged' && hostStateOf(s) !== 'Reverted') return;
        const r = stepHostRollout(s, buildEvent(extra, s.context.lastEventSeq + 1));
        expect(r).toMatchObject({ ok: false, error: { code: 'IllegalForState' } });
      }),
      RUNS,
    );
  });

  it('every reached record persists and restores to an identical state', () => {
    fc.assert(
      fc.property(inputArb, fc.array(choiceArb, { maxLength: 30 }), (i, choices) => {
        for (const s of walk(makeInput(i), choices).snapshots) {
          const restored = restoreHostRollout(JSON.parse(JSON.stringify(persistHostRollout(s))));
          if (!restored.ok) expect.fail(restored.error.message);
          expect(persistHostRollout(restored.snapshot)).toEqual(persistHostRollout(s));
          expect(restored.snapshot.status).toBe(s.status);
        }
      }),
      { numRuns: 100 },
    );
  });
});

describe('agent/CP parity', () => {
  const finalStates = new Set<string>();
  /** Random legal Local walk: at each step keep only the choices the chart accepts. */
  const legalLocalWalk = (input: HostRolloutInput, choices: readonly Choice[]): LocalEvent[] => {
    let s = createActor(hostRolloutMachine, { input }).getSnapshot();
    const events: LocalEvent[] = [];
    for (const c of choices) {
      const type = typeFor(c, hostStateOf(s));
      if (!type.startsWith('Local')) continue;
      const event = buildEvent(
        { ...c, type },
        s.context.lastEventSeq + 1 + Math.max(0, c.seqDelta - 1),
      ) as LocalEvent;
      const r = stepHostRollout(s, event);
      if (r.ok) {
        events.push(event);
        s = r.snapshot;
      }
    }
    return events;
  };

  it('Local events through a live agent actor (restored mid-way) and their Remote mirrors through the CP step agree', () => {
    fc.assert(
      fc.property(
        inputArb,
        fc.array(choiceArb, { minLength: 5, maxLength: 60, size: 'max' }),
        fc.nat(),
        (i, choices, restartAt) => {
          const input = makeInput(i);
          const locals = legalLocalWalk(input, choices);
          const k = locals.length === 0 ? 0 : restartAt % (locals.length + 1);

          // Agent side: a live actor, persisted to JSON and restored at step k (as after a crash).
          const agentEffects: HostEffect[] = [];
          let actor = createActor(hostRolloutMachine, { input });
          actor.on('*', (e) => agentEffects.push(e));
          actor.start();
          locals.forEach((event, idx) => {
            if (idx === k) {
              const persisted = JSON.parse(JSON.stringify(persistHostRollout(actor.getSnapshot())));
              actor.stop();
              const restored = restoreHostRollout(persisted);
              if (!restored.ok) expect.fail(restored.error.message);
              actor = createActor(hostRolloutMachine, { input, snapshot: restored.snapshot });
              actor.on('*', (e) => agentEffects.push(e));
              actor.start();
            }
            actor.send(event);
          });

          // CP side: the pure step over the Remote mirror of each wire payload.
          let cp = createActor(hostRolloutMachine, { input }).getSnapshot();
          const cpEffects: HostEffect[] = [];
          for (const event of locals) {
            const r = stepHostRollout(cp, toRemoteEvent(toAgentEvent(event)));
            if (!r.ok) expect.fail(`CP refused the mirror of ${event.type}: ${JSON.stringify(r.error)}`);
            cp = r.snapshot;
            cpEffects.push(...r.effects);
          }

          expect(persistHostRollout(actor.getSnapshot())).toEqual(persistHostRollout(cp));
          finalStates.add(hostStateOf(cp));
          // What the agent sends is exactly what the CP logs, in order; both record the same transitions.
          const sent = agentEffects.flatMap((e) => (e.type === 'LocalEmitEvent' ? [e.payload] : []));
          const logged = cpEffects.flatMap((e) => (e.type === 'RemoteAppendEventLog' ? [e.payload] : []));
          expect(logged).toEqual(sent);
          expect(sent).toEqual(locals.map(toAgentEvent));
          const transitions = (es: HostEffect[]) => es.filter((e) => e.type === 'RecordTransition');
          expect(transitions(cpEffects)).toEqual(transitions(agentEffects));
          actor.stop();
        },
      ),
      RUNS,
    );
    // Walks end in every state past Pending (a walk rarely has no legal Local event at all).
    expect([...finalStates].filter((st) => st !== 'Pending').sort()).toEqual(
      HOST_STATES.filter((st) => st !== 'Pending').sort(),
    );
  });
});
