// Wire schemas (spec §0.4, §2.3-2.4, §3.3, §5.4-5.5): what a reader accepts, what it reads absent
// and null optionals as, and how it reports what it refuses.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  AGENT_EVENT_KINDS,
  type AgentEventKind,
  agentEventEnvelopeSchema,
  agentEventSchema,
  agentEventSchemas,
} from '../../proto/agentEvent.ts';
import { HOST_STATES } from '../../proto/common.ts';
import {
  encodeWireSnapshot,
  type HostRolloutWireSnapshot,
  hostRolloutWireSnapshotSchema,
} from '../../proto/hostRolloutSnapshot.ts';
import {
  ROLLOUT_EVENT_TYPES,
  ROLLOUT_STATES,
  rolloutEffectSchema,
  rolloutEventSchema,
} from '../../proto/rolloutEvent.ts';
import { EXAMPLE_EVENTS } from '../machines/rollout.fixtures.ts';

const T = '2026-04-24T10:00:00Z';
const CLOSURE = 'abcdxyz-nixos-system-web-01-26.05';

type Wire<K extends AgentEventKind> = z.input<(typeof agentEventSchemas)[K]>;

/** One valid wire example of every agent event kind (the compiler insists on all of them). */
const AGENT_EXAMPLES: { [K in AgentEventKind]: Wire<K> } = {
  DispatchAck: { kind: 'DispatchAck', currentClosureAtDispatch: CLOSURE, receivedAt: T, seq: 1 },
  ActivationStarted: { kind: 'ActivationStarted', startedAt: T, switchMethod: 'switch', seq: 2 },
  ActivationCompleted: {
    kind: 'ActivationCompleted',
    observedCurrentClosure: CLOSURE,
    exitCode: 0,
    completedAt: T,
    seq: 3,
  },
  ActivationDeferred: { kind: 'ActivationDeferred', component: 'dbus', deferredAt: T, seq: 3 },
  ActivationFailed: { kind: 'ActivationFailed', exitCode: -1, stderrTail: 'boom', failedAt: T, seq: 3 },
  ProbeTopologyDeclared: {
    kind: 'ProbeTopologyDeclared',
    probes: [{ probeName: 'http', kind: 'command', mode: 'enforce' }],
    declaredAt: T,
    seq: 4,
  },
  ProbeObservedFirst: {
    kind: 'ProbeObservedFirst',
    probeName: 'http',
    mode: 'observe',
    observedAt: T,
    seq: 5,
  },
  ProbeResult: {
    kind: 'ProbeResult',
    probeName: 'http',
    mode: 'enforce',
    status: 'fail',
    observedAt: T,
    failureReason: 'connection refused',
    subResults: [
      {
        controlId: 'CIS-1.1',
        status: 'pass',
        framework: 'cis',
        article: '1.1',
        effectiveMode: 'observe',
        overrideReason: 'waiver 12',
      },
    ],
    seq: 6,
  },
  ProbeFailureFirst: {
    kind: 'ProbeFailureFirst',
    probeName: 'http',
    mode: 'enforce',
    firstFailedAt: T,
    seq: 7,
  },
  Failed: {
    kind: 'Failed',
    failedAt: T,
    sustainedDurationSecs: 120,
    failingProbes: ['http'],
    policyApplied: 'rollback-and-halt',
    seq: 8,
  },
  Converged: { kind: 'Converged', convergedAt: T, currentClosure: CLOSURE, seq: 9 },
  RollbackComplete: {
    kind: 'RollbackComplete',
    revertedToClosure: CLOSURE,
    exitCode: 0,
    completedAt: T,
    seq: 10,
  },
  RollbackFailed: {
    kind: 'RollbackFailed',
    closure: CLOSURE,
    exitCode: 1,
    stderrTail: 'nope',
    failedAt: T,
    seq: 10,
  },
};

const EXAMPLE_LIST = AGENT_EVENT_KINDS.map((kind) => ({ kind, example: AGENT_EXAMPLES[kind] }));

/** The distinct paths of a parse failure's issues, in order ([] on success). */
function issuePaths(result: { success: boolean; error?: z.ZodError }): string[] {
  return [...new Set(result.error?.issues.map((i) => i.path.join('.')) ?? [])];
}

function envelope(event: unknown, extra: Record<string, unknown> = {}) {
  return { hostname: 'web-01', rolloutId: 'stable@r1', event, ...extra };
}

describe('agent events (§2.4, §5.4)', () => {
  it('the example table has every kind of §2.4 (plus RollbackFailed, spec §10 G6)', () => {
    expect([...AGENT_EVENT_KINDS].sort()).toEqual(
      [
        'DispatchAck',
        'ActivationStarted',
        'ActivationCompleted',
        'ActivationDeferred',
        'ActivationFailed',
        'ProbeTopologyDeclared',
        'ProbeObservedFirst',
        'ProbeResult',
        'ProbeFailureFirst',
        'Failed',
        'Converged',
        'RollbackComplete',
        'RollbackFailed',
      ].sort(),
    );
  });

  it.each(EXAMPLE_LIST)('a valid $kind parses, alone and in an envelope', ({ kind, example }) => {
    const parsed = agentEventSchema.parse(example);
    expect(parsed.kind).toBe(kind);
    expect(parsed).toEqual(agentEventSchemas[kind].parse(example));
    const wrapped = agentEventEnvelopeSchema.parse(envelope(JSON.parse(JSON.stringify(example))));
    expect(wrapped.event).toEqual(parsed);
    expect(wrapped).toMatchObject({ hostname: 'web-01', rolloutId: 'stable@r1' });
  });

  it('absent and null optionals both read as null (DispatchAck, ProbeResult, sub-results)', () => {
    const { currentClosureAtDispatch: _c, ...ackWithout } = AGENT_EXAMPLES.DispatchAck;
    for (const raw of [ackWithout, { ...ackWithout, currentClosureAtDispatch: null }]) {
      expect(agentEventSchema.parse(raw)).toMatchObject({
        kind: 'DispatchAck',
        currentClosureAtDispatch: null,
      });
    }
    // The agent stores "" when /run/current-system is missing: "" is kept, not turned into null.
    expect(agentEventSchema.parse({ ...ackWithout, currentClosureAtDispatch: '' })).toMatchObject({
      currentClosureAtDispatch: '',
    });

    const { failureReason: _f, subResults: _s, ...resultWithout } = AGENT_EXAMPLES.ProbeResult;
    for (const raw of [resultWithout, { ...resultWithout, failureReason: null, subResults: null }]) {
      expect(agentEventSchema.parse(raw)).toMatchObject({ failureReason: null, subResults: null });
    }

    const sub = { controlId: 'CIS-1.1', status: 'pass', framework: 'cis' } as const;
    for (const s of [sub, { ...sub, article: null, effectiveMode: null, overrideReason: null }]) {
      const parsed = agentEventSchemas.ProbeResult.parse({ ...resultWithout, subResults: [s] });
      // effectiveMode defaults to enforce (§2.3), the others read as null.
      expect(parsed.subResults).toEqual([
        { ...sub, article: null, effectiveMode: 'enforce', overrideReason: null },
      ]);
    }
  });

  it('unknown fields are ignored, at the top level, in the event and in nested objects', () => {
    for (const { kind, example } of EXAMPLE_LIST) {
      const parsed = agentEventSchema.parse({ ...example, futureField: { any: 'thing' }, uptimeSecs: 5 });
      expect(parsed, kind).toEqual(agentEventSchema.parse(example));
      expect(parsed).not.toHaveProperty('futureField');
    }
    const withNested = {
      ...AGENT_EXAMPLES.ProbeResult,
      subResults: [{ controlId: 'c', status: 'pass', framework: 'f', evidenceUrl: 'https://x' }],
    };
    expect(agentEventSchemas.ProbeResult.parse(withNested).subResults?.[0]).not.toHaveProperty('evidenceUrl');
    const env = agentEventEnvelopeSchema.parse(envelope(AGENT_EXAMPLES.Converged, { agentVersion: '0.2.0' }));
    expect(env).not.toHaveProperty('agentVersion');
  });

  it('an unknown or mis-cased kind is rejected at path "kind"', () => {
    for (const kind of ['Bogus', 'converged', 'RemoteConverged', '', 42, null]) {
      const r = agentEventSchema.safeParse({ ...AGENT_EXAMPLES.Converged, kind });
      expect(r.success, String(kind)).toBe(false);
      expect(issuePaths(r)).toEqual(['kind']);
    }
    const { kind: _k, ...noKind } = AGENT_EXAMPLES.Converged;
    expect(issuePaths(agentEventSchema.safeParse(noKind))).toEqual(['kind']);
  });

  it('a kind whose fields belong to another kind is rejected, naming the missing fields', () => {
    const r = agentEventSchema.safeParse({ ...AGENT_EXAMPLES.Converged, kind: 'RollbackComplete' });
    expect(r.success).toBe(false);
    expect(issuePaths(r).sort()).toEqual(['completedAt', 'exitCode', 'revertedToClosure']);
  });

  it('a negative, fractional, non-numeric or unsafe seq is rejected at event.seq', () => {
    for (const seq of [-1, 1.5, '3', Number.MAX_SAFE_INTEGER + 2, Number.NaN, null]) {
      const r = agentEventEnvelopeSchema.safeParse(envelope({ ...AGENT_EXAMPLES.Converged, seq }));
      expect(r.success, String(seq)).toBe(false);
      expect(issuePaths(r)).toEqual(['event.seq']);
      if (!r.success) expect(z.prettifyError(r.error)).toContain('event.seq');
    }
    // 0 is a valid seq (a fresh record), as is the largest safe integer.
    for (const seq of [0, Number.MAX_SAFE_INTEGER]) {
      expect(agentEventSchema.safeParse({ ...AGENT_EXAMPLES.Converged, seq }).success).toBe(true);
    }
  });

  it('a non-RFC 3339 timestamp is rejected at its field path', () => {
    const bad = [
      '2026-04-24 10:00:00Z',
      '2026-04-24T10:00:00',
      '2026-04-24T10:00Z',
      '2026-04-24',
      'yesterday',
      '1776981600',
      '2026-02-30T10:00:00Z',
      '2026-04-24T24:30:00Z',
    ];
    for (const ts of bad) {
      const r = agentEventEnvelopeSchema.safeParse(
        envelope({ ...AGENT_EXAMPLES.Converged, convergedAt: ts }),
      );
      expect(r.success, ts).toBe(false);
      expect(issuePaths(r)).toEqual(['event.convergedAt']);
    }
    const nested = agentEventSchema.safeParse({ ...AGENT_EXAMPLES.ActivationFailed, failedAt: 1776981600 });
    expect(issuePaths(nested)).toEqual(['failedAt']);
    // Offsets and fractional seconds are RFC 3339 and accepted.
    for (const ts of [
      '2026-04-24T12:00:00+02:00',
      '2026-04-24T10:00:00.123456Z',
      '2026-04-24T10:00:00.5-03:30',
    ]) {
      expect(agentEventSchema.safeParse({ ...AGENT_EXAMPLES.Converged, convergedAt: ts }).success, ts).toBe(
        true,
      );
    }
  });

  it('a rollout id with a path separator is rejected at path "rolloutId"', () => {
    for (const rolloutId of [
      'stable/x@r1',
      'stable@../../etc',
      'stable@r\\1',
      'stable@r 1',
      'stable',
      '@r1',
    ]) {
      const r = agentEventEnvelopeSchema.safeParse({ ...envelope(AGENT_EXAMPLES.Converged), rolloutId });
      expect(r.success, rolloutId).toBe(false);
      expect(issuePaths(r)).toEqual(['rolloutId']);
      if (!r.success) expect(z.prettifyError(r.error)).toContain('rolloutId');
    }
    // The ref part is split on the first "@" (§1.8), so a later "@" is allowed.
    expect(
      agentEventEnvelopeSchema.safeParse(envelope(AGENT_EXAMPLES.Converged, { rolloutId: 'a@b@c' })).success,
    ).toBe(true);
  });

  it('several bad fields are all reported, each with its own path', () => {
    const r = agentEventEnvelopeSchema.safeParse({
      hostname: '-bad host',
      rolloutId: 'x/y@z',
      event: { ...AGENT_EXAMPLES.Failed, seq: -3, policyApplied: 'panic' },
      signature: 'not-hex!',
    });
    expect(issuePaths(r).sort()).toEqual([
      'event.policyApplied',
      'event.seq',
      'hostname',
      'rolloutId',
      'signature',
    ]);
  });

  it('the envelope signature is optional hex; absent and null are both accepted', () => {
    for (const extra of [{}, { signature: null }, { signature: 'deadBEEF00' }]) {
      expect(agentEventEnvelopeSchema.safeParse(envelope(AGENT_EXAMPLES.Converged, extra)).success).toBe(
        true,
      );
    }
    expect(
      issuePaths(agentEventEnvelopeSchema.safeParse(envelope(AGENT_EXAMPLES.Converged, { signature: 'zz' }))),
    ).toEqual(['signature']);
  });
});

// ---------------------------------------------------------------------------------------------

const FULL_SNAPSHOT: HostRolloutWireSnapshot = {
  rolloutId: 'stable@r1',
  hostname: 'web-01',
  channel: 'stable',
  state: 'Soaking',
  targetClosure: CLOSURE,
  currentClosureAtDispatch: 'old-closure',
  currentClosure: CLOSURE,
  dispatchedAt: '2026-04-24T10:00:00Z',
  dispatchAckedAt: '2026-04-24T10:00:01Z',
  activationStartedAt: '2026-04-24T10:00:02Z',
  activationCompletedAt: '2026-04-24T10:00:03Z',
  soakDueAt: '2026-04-24T10:10:00Z',
  lastEventSeq: 4,
};
const OPTIONAL_KEYS = [
  'currentClosureAtDispatch',
  'currentClosure',
  'dispatchAckedAt',
  'activationStartedAt',
  'activationCompletedAt',
  'soakDueAt',
] as const;

describe('HostRolloutSnapshot (§5.5)', () => {
  it('parses with every optional omitted, reading them as null', () => {
    const minimal = {
      rolloutId: 'stable@r1',
      hostname: 'web-01',
      channel: 'stable',
      state: 'Pending',
      targetClosure: CLOSURE,
      dispatchedAt: '2026-04-24T10:00:00Z',
      lastEventSeq: 0,
    };
    const parsed = hostRolloutWireSnapshotSchema.parse(minimal);
    for (const key of OPTIONAL_KEYS) expect(parsed[key], key).toBeNull();
    expect(
      hostRolloutWireSnapshotSchema.parse({
        ...minimal,
        ...Object.fromEntries(OPTIONAL_KEYS.map((k) => [k, null])),
      }),
    ).toEqual(parsed);
    expect(encodeWireSnapshot(parsed)).toEqual(minimal);
  });

  it('parses the full form; unknown fields are ignored; every host state is accepted PascalCase', () => {
    expect(hostRolloutWireSnapshotSchema.parse({ ...FULL_SNAPSHOT, revertedTo: 'x', probes: {} })).toEqual(
      FULL_SNAPSHOT,
    );
    for (const state of HOST_STATES) {
      expect(hostRolloutWireSnapshotSchema.parse({ ...FULL_SNAPSHOT, state }).state).toBe(state);
    }
    const r = hostRolloutWireSnapshotSchema.safeParse({ ...FULL_SNAPSHOT, state: 'soaking' });
    expect(issuePaths(r)).toEqual(['state']);
  });

  it('required fields are required, and bad values are named by path', () => {
    const { dispatchedAt: _d, ...noDispatched } = FULL_SNAPSHOT;
    expect(issuePaths(hostRolloutWireSnapshotSchema.safeParse(noDispatched))).toEqual(['dispatchedAt']);
    expect(
      issuePaths(
        hostRolloutWireSnapshotSchema.safeParse({ ...FULL_SNAPSHOT, soakDueAt: 'soon', lastEventSeq: -1 }),
      ).sort(),
    ).toEqual(['lastEventSeq', 'soakDueAt']);
  });

  it('encodeWireSnapshot omits exactly the null fields, and decoding it gives back the snapshot', () => {
    const snapshotArb = fc
      .record({
        state: fc.constantFrom(...HOST_STATES),
        lastEventSeq: fc.nat(),
        nulls: fc.subarray([...OPTIONAL_KEYS]),
      })
      .map(({ state, lastEventSeq, nulls }) => {
        const s: HostRolloutWireSnapshot = { ...FULL_SNAPSHOT, state, lastEventSeq };
        for (const k of nulls) s[k] = null;
        return { s, nulls };
      });
    fc.assert(
      fc.property(snapshotArb, ({ s, nulls }) => {
        const wire = encodeWireSnapshot(s);
        expect(Object.values(wire)).not.toContain(null);
        expect(Object.keys(wire).sort()).toEqual(
          Object.keys(s)
            .filter((k) => !(nulls as string[]).includes(k))
            .sort(),
        );
        expect(hostRolloutWireSnapshotSchema.parse(JSON.parse(JSON.stringify(wire)))).toEqual(s);
      }),
      { numRuns: 300 },
    );
  });
});

// ---------------------------------------------------------------------------------------------

describe('rollout events and effects (§3.3, §3.4)', () => {
  it('ROLLOUT_EVENT_TYPES and ROLLOUT_STATES are exactly the spec’s', () => {
    expect(ROLLOUT_EVENT_TYPES).toEqual([
      'RolloutOpened',
      'HostJoined',
      'HostStateChanged',
      'WaveAdvanced',
      'RolloutTerminal',
      'SuccessorOpened',
      'RetentionExpired',
      'OperatorClearance',
    ]);
    expect(ROLLOUT_STATES).toEqual([
      'Opening',
      'Active',
      'Converging',
      'Terminal',
      'Failed',
      'Reverted',
      'Superseded',
      'Pruned',
    ]);
  });

  it.each(ROLLOUT_EVENT_TYPES)('rolloutEventSchema accepts %s (and ignores unknown fields)', (type) => {
    const example = EXAMPLE_EVENTS[type];
    expect(rolloutEventSchema.parse(JSON.parse(JSON.stringify(example)))).toEqual(example);
    expect(rolloutEventSchema.parse({ ...example, extra: 1 })).toEqual(example);
  });

  it('rolloutEventSchema rejects bad payloads at their paths', () => {
    const cases: [unknown, string[]][] = [
      [{ ...EXAMPLE_EVENTS.WaveAdvanced, toWave: -1 }, ['toWave']],
      [{ ...EXAMPLE_EVENTS.WaveAdvanced, fromWave: 0.5 }, ['fromWave']],
      [{ ...EXAMPLE_EVENTS.HostJoined, rolloutId: 'a/b@c' }, ['rolloutId']],
      [{ ...EXAMPLE_EVENTS.HostStateChanged, to: 'Done' }, ['to']],
      [{ ...EXAMPLE_EVENTS.RolloutTerminal, at: '2026-04-24' }, ['at']],
      [{ ...EXAMPLE_EVENTS.SuccessorOpened, successorRolloutId: undefined }, ['successorRolloutId']],
      [{ ...EXAMPLE_EVENTS.OperatorClearance, operator: '' }, ['operator']],
      [{ ...EXAMPLE_EVENTS.RolloutTerminal, type: 'RolloutDone' }, ['type']],
    ];
    for (const [raw, paths] of cases) expect(issuePaths(rolloutEventSchema.safeParse(raw))).toEqual(paths);
  });

  it('rolloutEffectSchema accepts both effects the step emits and rejects unknown ones', () => {
    const record = {
      type: 'RecordRolloutTransition',
      rolloutId: 'stable@r1',
      from: 'Active',
      to: 'Terminal',
      at: T,
    };
    const wave = { type: 'UpdateCurrentWave', rolloutId: 'stable@r1', wave: 2 };
    expect(rolloutEffectSchema.parse(record)).toEqual(record);
    expect(rolloutEffectSchema.parse(wave)).toEqual(wave);
    expect(issuePaths(rolloutEffectSchema.safeParse({ ...record, to: 'Done' }))).toEqual(['to']);
    expect(issuePaths(rolloutEffectSchema.safeParse({ ...wave, wave: -1 }))).toEqual(['wave']);
    expect(
      rolloutEffectSchema.safeParse({ type: 'SchedulePruning', rolloutId: 'stable@r1', delaySeconds: 1 })
        .success,
    ).toBe(false);
  });
});
