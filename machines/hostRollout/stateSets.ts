// One definition of each state class (spec §2.1; §10 G17 fixed the original's two definitions of
// "in flight").
import type { HostState } from '../../proto/common.ts';

const set = (...s: HostState[]): ReadonlySet<HostState> => new Set(s);

/** Absorbing: every later event is refused. */
export const TERMINAL_STATES = set('Converged', 'Reverted');
/** Counted by the disruption budget: the host is switching or soaking. */
export const IN_FLIGHT_STATES = set('Activating', 'Soaking');
/** Satisfies wave promotion and host edges. */
export const ORDERING_ELIGIBLE_STATES = set('Converged', 'Deferred');
/** Still owed work: heartbeat synthesis and bootstrap snapshots look only at these. */
export const ACTIVE_STATES = set('Pending', 'Activating', 'Deferred', 'Soaking', 'Failed');

export const isTerminal = (s: HostState): boolean => TERMINAL_STATES.has(s);
export const isInFlight = (s: HostState): boolean => IN_FLIGHT_STATES.has(s);
export const isOrderingEligible = (s: HostState): boolean => ORDERING_ELIGIBLE_STATES.has(s);
export const isActive = (s: HostState): boolean => ACTIVE_STATES.has(s);
