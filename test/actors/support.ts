// Helpers for actor-runtime tests: a manual clock and host/rollout inputs and events.
import type { Clock } from '../../actors/index.ts';
import type { HostRolloutEvent, HostRolloutInput, RolloutInput } from '../../machines/index.ts';

export const T0 = '2026-05-16T01:00:00.000Z';
export const at = (s: number) => new Date(Date.parse(T0) + s * 1000).toISOString();

/** A clock the test moves by hand; due callbacks run synchronously inside `advance`. */
export class ManualClock implements Clock {
  #now: number;
  #timers = new Map<number, { due: number; fn: () => void }>();
  #next = 1;
  constructor(start = Date.parse(T0)) {
    this.#now = start;
  }
  now(): Date {
    return new Date(this.#now);
  }
  setTimeout(fn: () => void, ms: number): unknown {
    const id = this.#next++;
    this.#timers.set(id, { due: this.#now + ms, fn });
    return id;
  }
  clearTimeout(handle: unknown): void {
    this.#timers.delete(handle as number);
  }
  get pending(): number {
    return this.#timers.size;
  }
  advance(ms: number): void {
    this.#now += ms;
    for (const [id, t] of [...this.#timers].sort((a, b) => a[1].due - b[1].due)) {
      if (t.due <= this.#now) {
        this.#timers.delete(id);
        t.fn();
      }
    }
  }
}

export const rolloutInput = (rolloutId = 'stable@abc123'): RolloutInput => ({
  rolloutId,
  channel: rolloutId.split('@')[0] as string,
  targetRef: rolloutId.split('@')[1] as string,
  openedAt: T0,
});

export const hostInput = (hostname: string, rolloutId = 'stable@abc123'): HostRolloutInput => ({
  rolloutId,
  hostname,
  channel: rolloutId.split('@')[0] as string,
  targetClosure: `target-${hostname}`,
  dispatchedAt: T0,
  soakDueAt: at(300),
  onHealthFailure: 'rollback-and-halt',
});

export const remote = {
  ack: (seq: number): HostRolloutEvent => ({
    type: 'RemoteDispatchAck',
    seq,
    currentClosureAtDispatch: 'prior',
    receivedAt: at(seq),
  }),
  started: (seq: number): HostRolloutEvent => ({
    type: 'RemoteActivationStarted',
    seq,
    startedAt: at(seq),
    switchMethod: 'switch',
  }),
  completed: (seq: number, hostname: string): HostRolloutEvent => ({
    type: 'RemoteActivationCompleted',
    seq,
    observedCurrentClosure: `target-${hostname}`,
    exitCode: 0,
    completedAt: at(seq),
  }),
  probe: (seq: number, status: 'pass' | 'fail' = 'pass'): HostRolloutEvent => ({
    type: 'RemoteProbeResult',
    seq,
    probeName: 'nginx',
    mode: 'enforce',
    status,
    observedAt: at(seq),
    failureReason: status === 'fail' ? 'down' : null,
    subResults: null,
  }),
  activationFailed: (seq: number): HostRolloutEvent => ({
    type: 'RemoteActivationFailed',
    seq,
    exitCode: -1,
    stderrTail: 'activation-timeout',
    failedAt: at(seq),
  }),
};

/** Waits for `check` to hold, polling, failing after `ms`: never a fixed sleep. */
export async function until(
  check: () => boolean | Promise<boolean>,
  ms = 10_000,
  what = 'condition',
): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setImmediate(r));
  }
}
