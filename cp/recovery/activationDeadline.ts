// Activation deadline (spec §10 G7, crash scenario 3b of §6.15): a host whose switch never took and
// whose agent restarted sits in Activating forever — its heartbeat reports the prior closure, so
// synthesis never fires, and nothing re-dispatches an acked host. Past the deadline the CP fails the
// record with a synthesised RemoteActivationFailed; the rollout policy then applies as for any
// failed activation.
import {
  addSeconds,
  type HostRolloutSnapshot,
  hostStateOf,
  type RemoteEventOf,
  toMillis,
} from '../../machines/index.ts';
import type { Timestamp } from '../../proto/index.ts';

/** `stderrTail` of the synthesised failure: the reason operators and tests match on. */
export const ACTIVATION_TIMEOUT_REASON = 'activation-timeout';
/** No process exited; −1 is what the agent reports for an unknown exit status (spec §6.11). */
export const ACTIVATION_TIMEOUT_EXIT_CODE = -1;

/**
 * When an Activating record times out, or null for any other state. Deferred has no deadline: it
 * waits for an operator reboot (spec §2.8).
 *
 * Anchored at `dispatchAckedAt`, which is the dispatch's `enqueued_at` (CP clock, spec §6.7), so the
 * comparison with the CP's `now` is not skewed by the agent's clock. `activationStartedAt` is not a
 * better anchor: the agent emits it first thing, before realising the closure (spec §6.11 step 1).
 * `timeoutSecs` should cover realisation plus the agent's 300 s verify poll, plus slack.
 */
export function activationDeadlineAt(record: HostRolloutSnapshot, timeoutSecs: number): Timestamp | null {
  if (hostStateOf(record) !== 'Activating') return null;
  const c = record.context;
  const anchor = c.dispatchAckedAt ?? c.activationStartedAt ?? c.dispatchedAt;
  return addSeconds(anchor, timeoutSecs);
}

/**
 * The RemoteActivationFailed to feed the record once its deadline has passed, or null. The event
 * is stamped with `now` and takes the next seq (spec §2.9); the caller steps it like any other
 * event, and a record that moved on in the meantime refuses it as a duplicate or illegal event.
 */
export function activationDeadline(
  record: HostRolloutSnapshot,
  now: Timestamp,
  timeoutSecs: number,
): RemoteEventOf<'ActivationFailed'> | null {
  const due = activationDeadlineAt(record, timeoutSecs);
  if (due === null || toMillis(now) < toMillis(due)) return null;
  return {
    type: 'RemoteActivationFailed',
    exitCode: ACTIVATION_TIMEOUT_EXIT_CODE,
    stderrTail: ACTIVATION_TIMEOUT_REASON,
    failedAt: now,
    seq: record.context.lastEventSeq + 1,
  };
}
