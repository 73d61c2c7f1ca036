// The agent's activation door: switch and rollback through the operator's command templates,
// verified against the current-system link, with exactly-once bookkeeping (spec §6.11, §10 G6).
export {
  ACTIVATIONS_DIR,
  type ActivationAttempt,
  type ActivationRecord,
  type AttemptKind,
  type AttemptOutcome,
  activationPaths,
  type ReadActivationRecordResult,
  readActivationRecord,
} from './activationRecord.ts';
export {
  ACTIVATION_EXIT,
  type ActivationEvent,
  type ActivationInspection,
  type ActivationIntent,
  type ActivationLogger,
  type ActivationReport,
  type ActivationResult,
  type ActivationWorker,
  type ActivationWorkerOptions,
  type CreateActivationWorkerResult,
  createActivationWorker,
  DEFERRED_MARKER,
} from './activationWorker.ts';
export {
  type CommandLineError,
  expandArgv,
  type SplitCommandLineResult,
  splitCommandLine,
} from './commandLine.ts';
export { closureBasename, readCurrentClosure } from './currentSystem.ts';
export { detectSystemdRun, findExecutable, type LaunchMethod, type SystemdRunOptions } from './launcher.ts';
export { readFileTail, utf8Tail } from './outputTail.ts';
