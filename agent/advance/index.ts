// The agent's advance door: the pure per-record decision of the 5 s advance ticker (spec §2.8, §6.4).
export {
  type AdvanceDecision,
  type AdvanceDecisionOptions,
  type AdvanceWaitReason,
  DEFAULT_SUSTAINED_FAILURE_MS,
  decideAdvance,
} from './decide.ts';
