import type { HostState } from '../../proto/common.ts';
import type { ConvergedInvariant } from './records.ts';

/**
 * Why the chart refused an event (spec §2.6). Plain data, so the CP can put it in a 409 body and
 * the agent in a log line; on any of these the snapshot is unchanged and no effect runs.
 */
export type HostTransitionError =
  | {
      /** `seq ≤ lastEventSeq` (equality included): a duplicate or stale delivery. */
      code: 'SeqRegression';
      got: number;
      last: number;
      rolloutId: string;
      hostname: string;
    }
  | {
      code: 'IllegalForState';
      from: HostState;
      event: string;
      rolloutId: string;
      hostname: string;
    }
  | {
      code: 'Invariant';
      invariant: ConvergedInvariant;
      message: string;
      rolloutId: string;
      hostname: string;
    };

export function describeHostTransitionError(e: HostTransitionError): string {
  switch (e.code) {
    case 'SeqRegression':
      return `${e.hostname} ${e.rolloutId}: seq ${e.got} is not after ${e.last} (duplicate or stale event)`;
    case 'IllegalForState':
      return `${e.hostname} ${e.rolloutId}: ${e.event} is not legal in ${e.from}`;
    case 'Invariant':
      return `${e.hostname} ${e.rolloutId}: ${e.message}`;
  }
}
