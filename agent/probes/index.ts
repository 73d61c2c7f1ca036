// The agent's probe door: the `--probes-file` schema and the probe worker (spec §6.12, contract §2).

export {
  type LoadProbesFileResult,
  loadProbesFile,
  MIN_PROBE_INTERVAL_MS,
  type ProbeDecl,
  type ProbesFileError,
  parseProbesFile,
  probeDeclSchema,
  probesFileSchema,
} from './probesFile.ts';
export {
  createProbeWorker,
  PROBES_FILE_PROBE,
  type ProbeEvent,
  type ProbeLogger,
  type ProbeReport,
  type ProbeResetReport,
  type ProbeVerdict,
  type ProbeWorker,
  type ProbeWorkerOptions,
  probeVerdict,
} from './probeWorker.ts';
export { type ProbeRun, type ProbeRunEnd, type RunningProbe, runProbeCommand } from './runProbeCommand.ts';
