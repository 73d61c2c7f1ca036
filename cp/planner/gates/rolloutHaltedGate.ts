// Rollout halted (spec §10 G19): once any host of a rollout has Failed, under either
// onHealthFailure policy ("halt" or "rollback-and-halt", spec §1.2), none of its remaining Pending
// hosts is dispatched. The original stopped only the failed host and let the rest of its wave go on.
// Checked first: it is the cause of everything else in the rollout standing still, and a downstream
// gate's reason would hide it from the operator.
import { blockOf, type Gate } from './gate.ts';

export const rolloutHaltedGate: Gate = (view, c) => {
  const rollout = view.planned.get(c.rolloutId);
  const halt = rollout?.halt ?? null;
  if (rollout === undefined || halt === null) return null;
  const policy = rollout.policy?.onHealthFailure ?? 'halt';
  const cause =
    halt.host === null
      ? `rollout is ${halt.rolloutState}`
      : `host '${halt.host}' is ${halt.hostState ?? 'Failed'} (onHealthFailure: ${policy})`;
  return blockOf(
    c,
    'rollout-halted',
    `rollout-halted: ${cause}; publish a new release of '${rollout.manifest.channel}' to roll out again`,
  );
};
