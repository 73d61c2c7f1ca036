// The §5.5 heartbeat wire: snake_case request and response, absent and null optionals, the G13/P3
// additions, unknown fields ignored, refusals located by field path, and the replay header.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { toWireSnapshot } from '../../machines/index.ts';
import {
  encodeHeartbeatResponse,
  parseHeartbeatRequest,
  parseHeartbeatResponse,
  parseReplayFromHeader,
} from '../../proto/heartbeat.ts';
import { at, records } from './support/fixtures.ts';

const V02 = { hostname: 'web-01', rollout_id: null, current_closure: 'abc-nixos-system-web-01', at: at(0) };

describe('HeartbeatRequest', () => {
  it('reads a v0.2 request; absent and null optionals both read as null', () => {
    const expected = {
      ...V02,
      last_event_seq_by_rollout: null,
      uptime_secs: null,
      agent_version: null,
    };
    expect(parseHeartbeatRequest(V02)).toEqual({ ok: true, value: expected });
    expect(parseHeartbeatRequest({ hostname: 'web-01', at: at(0) })).toEqual({
      ok: true,
      value: { ...expected, current_closure: null },
    });
    expect(
      parseHeartbeatRequest({
        ...V02,
        last_event_seq_by_rollout: null,
        uptime_secs: null,
        agent_version: null,
      }),
    ).toEqual({ ok: true, value: expected });
  });

  it('reads the G13/P3 additions', () => {
    const r = parseHeartbeatRequest({
      ...V02,
      rollout_id: 'stable@r1',
      last_event_seq_by_rollout: { 'stable@r1': 7, 'edge@r2': 0 },
      uptime_secs: 3600,
      agent_version: '0.2.1',
    });
    expect(r).toMatchObject({
      ok: true,
      value: {
        rollout_id: 'stable@r1',
        last_event_seq_by_rollout: { 'stable@r1': 7, 'edge@r2': 0 },
        uptime_secs: 3600,
        agent_version: '0.2.1',
      },
    });
  });

  it('ignores unknown fields (a newer agent may send more)', () => {
    const r = parseHeartbeatRequest({ ...V02, hostName: 'x', load_avg: [1, 2, 3] });
    expect(r.ok && r.value).toEqual(expect.not.objectContaining({ load_avg: expect.anything() }));
    expect(r.ok).toBe(true);
  });

  it('is snake_case only: a camelCase spelling is an unknown field and reads as absent', () => {
    expect(parseHeartbeatRequest({ hostname: 'web-01', at: at(0), currentClosure: 'c' })).toMatchObject({
      ok: true,
      value: { current_closure: null },
    });
  });

  it('refuses bad bodies with every field path', () => {
    expect(parseHeartbeatRequest({})).toEqual({
      ok: false,
      issues: [
        { path: 'hostname', message: 'is required (string)' },
        { path: 'at', message: 'is required (string)' },
      ],
    });
    const r = parseHeartbeatRequest({
      hostname: 'web 01',
      rollout_id: 'no-at-sign',
      current_closure: '',
      at: 'yesterday',
      last_event_seq_by_rollout: { 'stable@r1': -1, 'bad/id': 1 },
      uptime_secs: 1.5,
      agent_version: 7,
    });
    expect(r.ok).toBe(false);
    expect(r.ok ? [] : r.issues.map((i) => i.path)).toEqual([
      'hostname',
      'rollout_id',
      'current_closure',
      'at',
      'last_event_seq_by_rollout["stable@r1"]',
      'last_event_seq_by_rollout["bad/id"]',
      'uptime_secs',
      'agent_version',
    ]);
  });

  it('refuses non-objects at the top level', () => {
    for (const raw of [null, 'hb', 42, [], undefined]) {
      const r = parseHeartbeatRequest(raw);
      expect(r).toMatchObject({ ok: false, issues: [{ path: '(top level)' }] });
    }
  });

  it('never throws on arbitrary input', () => {
    fc.assert(
      fc.property(fc.anything(), (raw) => {
        const r = parseHeartbeatRequest(raw);
        if (!r.ok) expect(r.issues.length).toBeGreaterThan(0);
      }),
    );
    fc.assert(
      fc.property(
        fc.dictionary(fc.constantFrom(...Object.keys(V02), 'uptime_secs', 'x'), fc.jsonValue()),
        (raw) => {
          parseHeartbeatRequest({ ...V02, ...raw });
        },
      ),
    );
  });
});

describe('HeartbeatResponse', () => {
  const snapshot = toWireSnapshot(records.activating());

  it('encodes with empty collections and null fields omitted, and reads back', () => {
    const body = encodeHeartbeatResponse({
      received_at: at(0),
      bootstrap_rollouts: [snapshot],
      replay_from_by_rollout: {},
    });
    expect(Object.keys(body)).toEqual(['received_at', 'bootstrap_rollouts']);
    const [encoded] = body.bootstrap_rollouts as Record<string, unknown>[];
    expect(Object.values(encoded ?? {})).not.toContain(null);
    expect(parseHeartbeatResponse(JSON.parse(JSON.stringify(body)))).toEqual({
      ok: true,
      value: { received_at: at(0), bootstrap_rollouts: [snapshot], replay_from_by_rollout: {} },
    });
    expect(
      encodeHeartbeatResponse({
        received_at: null,
        bootstrap_rollouts: [],
        replay_from_by_rollout: { 'stable@r1': 3 },
      }),
    ).toEqual({ replay_from_by_rollout: { 'stable@r1': 3 } });
  });

  it('an old CP’s answer (no body fields, or nulls) reads as no snapshots (spec §6.15)', () => {
    expect(parseHeartbeatResponse({})).toEqual({
      ok: true,
      value: { received_at: null, bootstrap_rollouts: [], replay_from_by_rollout: {} },
    });
    expect(parseHeartbeatResponse({ received_at: null, bootstrap_rollouts: null, extra: 1 })).toMatchObject({
      ok: true,
      value: { bootstrap_rollouts: [] },
    });
  });

  it('locates a bad snapshot by index and field', () => {
    const r = parseHeartbeatResponse({ bootstrap_rollouts: [snapshot, { ...snapshot, state: 'soaking' }] });
    expect(r).toMatchObject({ ok: false, issues: [{ path: 'bootstrap_rollouts[1].state' }] });
  });
});

describe('X-Nixfleet-Replay-From', () => {
  it('reads a decimal u64 and nothing else', () => {
    expect(parseReplayFromHeader('0')).toBe(0);
    expect(parseReplayFromHeader('42')).toBe(42);
    for (const v of [
      null,
      undefined,
      '',
      ' 4',
      '4 ',
      '-1',
      '+1',
      '01',
      '1e3',
      '0x10',
      '4.0',
      '99999999999999999999',
    ]) {
      expect(parseReplayFromHeader(v)).toBeNull();
    }
  });

  it('round-trips every safe seq', () => {
    fc.assert(
      fc.property(fc.nat({ max: Number.MAX_SAFE_INTEGER }), (n) => {
        expect(parseReplayFromHeader(String(n))).toBe(n);
      }),
    );
  });
});
