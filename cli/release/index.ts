// Public door of `nixfleet release …`: each entry runs one subcommand as a process step and exits
// with its code (contract §1: 0 ok, 1 failed, 2 usage).
import { releaseBuild } from './build.ts';
import { runToExit } from './cliIo.ts';
import { releaseKeygen } from './keygen.ts';
import { releaseVerify } from './verify.ts';

export { releaseBuild } from './build.ts';
export { type CliIo, EXIT_FAILED, EXIT_OK, EXIT_USAGE } from './cliIo.ts';
export { releaseKeygen } from './keygen.ts';
export { releaseVerify } from './verify.ts';

export const runReleaseKeygen = (options: unknown): Promise<void> =>
  runToExit('release keygen', (io) => releaseKeygen(options, io));

export const runReleaseBuild = (options: unknown): Promise<void> =>
  runToExit('release build', (io) => releaseBuild(options, io));

export const runReleaseVerify = (dir: string, options: unknown): Promise<void> =>
  runToExit('release verify', (io) => releaseVerify(dir, options, io));
