// How a switch or rollback command is started. Switching a NixOS host may restart the agent itself
// (its unit changed), so the command must not die with the agent (spec §6.11 step 8, issue 6):
// - `systemd-run`: a transient service outside the agent's cgroup (`--unit … --collect`), waited
//   on with `--wait` so its exit status comes back while the agent lives; if the agent is killed
//   the unit keeps running and the restarted agent reads the outcome from the current-system link;
// - `child`: the fallback where systemd is not running (tests, containers, non-NixOS hosts): a
//   detached process group, so a signal to the agent's group does not reach it.
// Both send stdout and stderr to files under `<stateDir>/activations/`, so the output of a command
// that outlived its agent is still there for the next one.
import { spawn } from 'node:child_process';
import { constants } from 'node:fs';
import { access, open, stat } from 'node:fs/promises';
import { delimiter, join } from 'node:path';

export type LaunchMethod = 'systemd-run' | 'child';

export interface LaunchSpec {
  argv: readonly string[];
  /** Transient unit name (systemd-run only). */
  unit: string;
  stdoutPath: string;
  stderrPath: string;
}

export interface LaunchExit {
  /** The command's exit status; null when it did not run to an exit (spawn error, signal). */
  exitCode: number | null;
  /** Why there is no exit status, or what the launcher itself said. */
  note: string | null;
}

export interface Launched {
  method: LaunchMethod;
  pid: number | null;
  unit: string | null;
  exited: Promise<LaunchExit>;
}

export interface SystemdRunOptions {
  /** The `systemd-run` program; a bare name is looked up on PATH. Default `systemd-run`. */
  binary?: string;
  /** sd_booted(3): systemd is PID 1 iff this directory exists. Default `/run/systemd/system`. */
  runtimeDir?: string;
}

/** Whether `systemd-run` can start a unit here: the binary exists and systemd is the running init. */
export async function detectSystemdRun(options: SystemdRunOptions = {}): Promise<boolean> {
  const runtimeDir = options.runtimeDir ?? '/run/systemd/system';
  try {
    if (!(await stat(runtimeDir)).isDirectory()) return false;
  } catch {
    return false;
  }
  return (await findExecutable(options.binary ?? 'systemd-run')) !== null;
}

export async function findExecutable(name: string): Promise<string | null> {
  const candidates = name.includes('/')
    ? [name]
    : (process.env.PATH ?? '')
        .split(delimiter)
        .filter((d) => d !== '')
        .map((d) => join(d, name));
  for (const c of candidates) {
    try {
      await access(c, constants.X_OK);
      return c;
    } catch {
      // next candidate
    }
  }
  return null;
}

/** A detached child whose stdout/stderr go straight to files. */
export async function launchChild(spec: LaunchSpec): Promise<Launched> {
  const [program, ...args] = spec.argv;
  if (program === undefined) {
    return {
      method: 'child',
      pid: null,
      unit: null,
      exited: Promise.resolve({ exitCode: null, note: 'empty argv' }),
    };
  }
  const out = await open(spec.stdoutPath, 'w', 0o600);
  const err = await open(spec.stderrPath, 'w', 0o600);
  try {
    const child = spawn(program, args, { detached: true, stdio: ['ignore', out.fd, err.fd] });
    const exited = new Promise<LaunchExit>((resolve) => {
      child.once('error', (e) =>
        resolve({ exitCode: null, note: `could not start ${program}: ${e.message}` }),
      );
      child.once('exit', (code, signal) =>
        resolve(
          code !== null ? { exitCode: code, note: null } : { exitCode: null, note: `killed by ${signal}` },
        ),
      );
    });
    return { method: 'child', pid: child.pid ?? null, unit: null, exited };
  } finally {
    // The child holds its own copies of the descriptors.
    await out.close();
    await err.close();
  }
}

/**
 * `systemd-run --unit=<unit> --collect --wait --quiet --service-type=exec -p StandardOutput=append:…
 * -p StandardError=append:… -- argv…`. With `--wait` systemd-run exits with the service's status;
 * its own stderr (e.g. "Unit … already exists") is kept as the launch note.
 */
export async function launchSystemdRun(spec: LaunchSpec, options: SystemdRunOptions = {}): Promise<Launched> {
  // Create (truncate) the output files first: `append:` needs them, and a stale tail from an earlier
  // attempt must not be reported as this one's.
  await (await open(spec.stdoutPath, 'w', 0o600)).close();
  await (await open(spec.stderrPath, 'w', 0o600)).close();
  const binary = options.binary ?? 'systemd-run';
  const args = [
    `--unit=${spec.unit}`,
    '--collect',
    '--wait',
    '--quiet',
    '--service-type=exec',
    '-p',
    `StandardOutput=append:${spec.stdoutPath}`,
    '-p',
    `StandardError=append:${spec.stderrPath}`,
    '--',
    ...spec.argv,
  ];
  const child = spawn(binary, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let said = '';
  child.stderr?.on('data', (c: Buffer) => {
    if (said.length < 4096) said += c.toString('utf8');
  });
  const exited = new Promise<LaunchExit>((resolve) => {
    child.once('error', (e) => resolve({ exitCode: null, note: `could not start ${binary}: ${e.message}` }));
    child.once('close', (code, signal) => {
      const note = said.trim() === '' ? null : said.trim();
      resolve(
        code !== null ? { exitCode: code, note } : { exitCode: null, note: note ?? `killed by ${signal}` },
      );
    });
  });
  return { method: 'systemd-run', pid: child.pid ?? null, unit: spec.unit, exited };
}

/** Whether an earlier attempt's command is still running (crash recovery); null when unknown. */
export async function isStillRunning(
  attempt: { method: LaunchMethod; pid: number | null; unit: string | null },
  options: { systemctl?: string } = {},
): Promise<boolean | null> {
  if (attempt.method === 'child') {
    if (attempt.pid === null) return null;
    try {
      // Signal 0 probes for existence. A recycled pid can read as alive; the link decides anyway.
      process.kill(attempt.pid, 0);
      return true;
    } catch (error) {
      // EPERM: it exists but belongs to someone else.
      return (error as NodeJS.ErrnoException).code === 'EPERM';
    }
  }
  if (attempt.unit === null) return null;
  const unit = attempt.unit;
  return new Promise((resolve) => {
    const child = spawn(options.systemctl ?? 'systemctl', ['is-active', '--quiet', unit], {
      stdio: 'ignore',
    });
    child.once('error', () => resolve(null));
    child.once('exit', (code) => resolve(code === 0));
  });
}
