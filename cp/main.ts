// `nixfleet cp` (contract §2): resolve the configuration once, start the control plane, run until
// SIGTERM/SIGINT, then drain and stop. Exit 0 after a clean stop, 2 for a usage error naming the
// flag (or file), 1 for a runtime failure such as an unreachable database.
import { describeConfig, resolveCpConfig } from './config.ts';
import { CpStartupError, startControlPlane } from './controlPlane.ts';
import { createCpLogger } from './logger.ts';
import type { PlanRunner } from './planTicker.ts';

export const EXIT_OK = 0;
export const EXIT_RUNTIME = 1;
export const EXIT_USAGE = 2;

export interface RunCpOptions {
  /** Parsed flags by camelCase key (commander's output); `config` is the `--config` path. */
  flags: Readonly<Record<string, unknown>>;
  env: Readonly<Record<string, string | undefined>>;
  stderr?: (line: string) => void;
  /** Resolves when the daemon should stop (default: SIGTERM or SIGINT). */
  until?: Promise<unknown>;
  planner?: PlanRunner;
}

function signalled(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const on = (signal: NodeJS.Signals) => {
      process.off('SIGTERM', on);
      process.off('SIGINT', on);
      resolve(signal);
    };
    process.on('SIGTERM', on);
    process.on('SIGINT', on);
  });
}

export async function runCp(options: RunCpOptions): Promise<number> {
  const stderr = options.stderr ?? ((line: string) => void process.stderr.write(`${line}\n`));
  const resolved = await resolveCpConfig({ flags: options.flags, env: options.env });
  if (!resolved.ok) {
    for (const p of resolved.problems) stderr(`nixfleet cp: ${p.flag}: ${p.message}`);
    return EXIT_USAGE;
  }
  const config = resolved.config;
  const logger = createCpLogger({ format: config.logFormat, level: config.logLevel });
  logger.info({ config: describeConfig(config) }, 'starting control plane');
  // Registered before the (possibly slow) start, so a SIGTERM during start-up still stops cleanly.
  const until = options.until ?? signalled();
  let cp: Awaited<ReturnType<typeof startControlPlane>>;
  try {
    cp = await startControlPlane(config, { logger, planner: options.planner });
  } catch (err) {
    if (err instanceof CpStartupError) {
      stderr(`nixfleet cp: ${err.flag}: ${err.message}`);
      return EXIT_USAGE;
    }
    // One line an operator can act on; no stack trace (contract §1).
    logger.fatal(
      { error: err instanceof Error ? err.message : String(err) },
      'control plane failed to start',
    );
    return EXIT_RUNTIME;
  }
  const why = await until;
  logger.info({ signal: String(why) }, 'shutting down');
  try {
    await cp.stop();
  } catch (err) {
    logger.error({ err }, 'shutdown failed');
    return EXIT_RUNTIME;
  }
  return EXIT_OK;
}
