// G7: a host cannot sit in Activating forever (crash scenario 3b). The rule is a pure function of
// the record, the CP clock and the timeout; the event it returns is an ordinary chart event.
import { describe, expect, it } from 'vitest';
import {
  ACTIVATION_TIMEOUT_REASON,
  activationDeadline,
  activationDeadlineAt,
} from '../../cp/recovery/index.ts';
import { hostStateOf, stepHostRollout } from '../../machines/index.ts';
import { at, drive, records, remote } from './support/fixtures.ts';

const TIMEOUT = 360; // the agent's 300 s verify poll plus slack

describe('activationDeadline', () => {
  it('anchors at dispatchAckedAt (the CP’s enqueue time) and fires from the deadline on', () => {
    const record = records.activating(); // acked at T0+1 s
    expect(activationDeadlineAt(record, TIMEOUT)).toBe(at(361));
    expect(activationDeadline(record, at(360), TIMEOUT)).toBeNull();
    expect(activationDeadline(record, at(361), TIMEOUT)).toEqual({
      type: 'RemoteActivationFailed',
      exitCode: -1,
      stderrTail: ACTIVATION_TIMEOUT_REASON,
      failedAt: at(361),
      seq: 2,
    });
  });

  it('an ActivationStarted does not move the deadline (emitted before realisation)', () => {
    const record = drive(records.activating(), [remote.started(2, at(100))]);
    expect(activationDeadlineAt(record, TIMEOUT)).toBe(at(361));
    expect(activationDeadline(record, at(400), TIMEOUT)?.seq).toBe(3);
  });

  it('only Activating times out: Deferred waits for a reboot; other states have nothing to time', () => {
    const others = [
      records.pending(),
      records.deferred(),
      records.soaking(),
      records.converged(),
      records.failed('halt'),
    ];
    for (const record of others) {
      expect(activationDeadlineAt(record, TIMEOUT)).toBeNull();
      expect(activationDeadline(record, at(100_000), TIMEOUT)).toBeNull();
    }
  });

  it('the chart takes the event: Activating → Failed with the rollout policy recorded', () => {
    for (const onHealthFailure of ['halt', 'rollback-and-halt'] as const) {
      const record = records.activating({ onHealthFailure });
      const event = activationDeadline(record, at(1000), TIMEOUT);
      if (event === null) return expect.fail('no deadline event');
      const r = stepHostRollout(record, event);
      if (!r.ok) return expect.fail(JSON.stringify(r.error));
      expect(hostStateOf(r.snapshot)).toBe('Failed');
      expect(r.snapshot.context).toMatchObject({
        activationFailedAt: at(1000),
        policyApplied: onHealthFailure,
      });
      expect(r.effects.map((e) => e.type)).toEqual(['RemoteAppendEventLog', 'RecordTransition']);
    }
  });

  it('an event computed before the record moved on is refused by the chart, not applied twice', () => {
    const record = records.activating();
    const late = activationDeadline(record, at(1000), TIMEOUT);
    if (late === null) return expect.fail('no deadline event');
    const completed = drive(record, [remote.completed(2)]);
    expect(stepHostRollout(completed, late)).toMatchObject({ ok: false, error: { code: 'SeqRegression' } });
  });
});
