// One probe run: the command in its own process group, no shell, killed (group and all) when its
// timeout fires on the injected clock. Exit status 0 = pass (contract §2).
import { spawn } from 'node:child_process';
import type { Clock } from '../../actors/index.ts';

export type ProbeRunEnd =
  | { kind: 'exited'; code: number }
  | { kind: 'signaled'; signal: string }
  | { kind: 'timeout'; timeoutMs: number }
  | { kind: 'spawn-error'; message: string };

export interface ProbeRun {
  end: ProbeRunEnd;
  stdout: Buffer;
  stderr: Buffer;
}

export interface RunningProbe {
  done: Promise<ProbeRun>;
  /** Kills the run now (a reset or stop); its result is then of no interest. */
  kill(): void;
}

/** Output kept per stream: the reason is in the tail, and a chatty probe must not grow memory. */
const KEEP_BYTES = 8 * 1024;

export function runProbeCommand(argv: readonly string[], timeoutMs: number, clock: Clock): RunningProbe {
  const [program, ...args] = argv;
  if (program === undefined) {
    return {
      done: Promise.resolve({
        end: { kind: 'spawn-error', message: 'empty command' },
        stdout: Buffer.alloc(0),
        stderr: Buffer.alloc(0),
      }),
      kill: () => {},
    };
  }
  // detached: its own process group, so a timeout kills what the probe started too (a `sh -c`
  // probe's children would otherwise keep running and keep its pipes open).
  const child = spawn(program, args, { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = Buffer.alloc(0);
  let stderr = Buffer.alloc(0);
  const keep = (acc: Buffer, chunk: Buffer) => {
    const joined = Buffer.concat([acc, chunk]);
    return joined.length > KEEP_BYTES ? joined.subarray(joined.length - KEEP_BYTES) : joined;
  };
  child.stdout?.on('data', (c: Buffer) => {
    stdout = keep(stdout, c);
  });
  child.stderr?.on('data', (c: Buffer) => {
    stderr = keep(stderr, c);
  });
  let timedOut = false;
  const killGroup = () => {
    if (child.pid === undefined) return;
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
    // A grandchild that left the group could still hold the pipes; stop reading them.
    child.stdout?.destroy();
    child.stderr?.destroy();
  };
  const timer = clock.setTimeout(() => {
    timedOut = true;
    killGroup();
  }, timeoutMs);
  const done = new Promise<ProbeRun>((resolve) => {
    child.once('error', (e) => {
      clock.clearTimeout(timer);
      resolve({ end: { kind: 'spawn-error', message: e.message }, stdout, stderr });
    });
    child.once('close', (code, signal) => {
      clock.clearTimeout(timer);
      const end: ProbeRunEnd = timedOut
        ? { kind: 'timeout', timeoutMs }
        : code !== null
          ? { kind: 'exited', code }
          : { kind: 'signaled', signal: signal ?? 'unknown' };
      resolve({ end, stdout, stderr });
    });
  });
  return { done, kill: killGroup };
}
