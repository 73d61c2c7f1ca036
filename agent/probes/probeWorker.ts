// The probe worker (spec §6.12, contract §2): runs the `--probes-file` health checks of the rollout
// whose probe cache was last reset, and reports Local probe events to the reducer (seq 0).
//
// On `reset(rolloutId)` (the applier's LocalResetProbeCache, after activation completes or a
// rehydration): every running probe is killed and forgotten, the file is read again (so an edited
// file applies at the next activation), `LocalProbeTopologyDeclared` lists every declared probe —
// disabled ones included — and each non-disabled probe runs at once, then `interval` after each run
// ends (runs of one probe never overlap). Per result, in this order:
//   LocalProbeObservedFirst   the probe's first result since the reset
//   LocalProbeResult          every result
//   LocalProbeFailureFirst    a failure that starts a streak: the first result, or after a pass
//
// A missing file means the host declares no probes (no topology event, spec §6.12). A file that is
// present but unreadable or invalid is NOT treated as "no probes" (the original did, so a typo made
// every host converge unchecked): it is declared as one enforce probe, `probes-file`, that fails
// every run with the reason — the host cannot converge until the file is fixed (cf. spec §10 G9).
import type { Clock } from '../../actors/index.ts';
import type { LocalEventOf } from '../../machines/index.ts';
import { utf8Tail } from '../activation/index.ts';
import { loadProbesFile, type ProbeDecl } from './probesFile.ts';
import { type ProbeRun, type RunningProbe, runProbeCommand } from './runProbeCommand.ts';

export const PROBES_FILE_PROBE = 'probes-file';

export type ProbeEvent =
  | LocalEventOf<'ProbeTopologyDeclared'>
  | LocalEventOf<'ProbeObservedFirst'>
  | LocalEventOf<'ProbeResult'>
  | LocalEventOf<'ProbeFailureFirst'>;

/** What the worker hands the reducer: a `HostEvent{rolloutId, event}` input (spec §6.3). */
export interface ProbeReport {
  rolloutId: string;
  event: ProbeEvent;
}

/** The logger surface the worker uses (pino's). */
export interface ProbeLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

const silent: ProbeLogger = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };

export interface ProbeWorkerOptions {
  /** `--probes-file`. */
  probesFile: string;
  clock: Clock;
  /** Delivers a report to the reducer's input queue; awaited in order. */
  emit: (report: ProbeReport) => void | Promise<void>;
  /** Cap of `failureReason`, bytes. Default 512 (spec §6.12). */
  failureReasonBytes?: number;
  logger?: ProbeLogger;
}

export interface ProbeResetReport {
  rolloutId: string;
  /** `declared`: topology emitted and probes started; `none`: no probes file; `invalid`: see header. */
  outcome: 'declared' | 'none' | 'invalid';
  /** Probes that run (disabled ones excluded). */
  running: string[];
}

export interface ProbeWorker {
  reset(rolloutId: string): Promise<ProbeResetReport>;
  /** Kills every running probe and cancels every timer; no event is emitted afterwards. */
  stop(): void;
  /** The rollout the probes currently report for, or null. */
  activeRollout(): string | null;
}

interface Ticker {
  decl: ProbeDecl;
  /** Set for the synthetic `probes-file` probe: every run fails with this reason, nothing is run. */
  configFailure: string | null;
  observed: boolean;
  lastStatus: 'pass' | 'fail' | null;
  timer: unknown;
  run: RunningProbe | null;
}

export function createProbeWorker(options: ProbeWorkerOptions): ProbeWorker {
  const { clock } = options;
  const log = options.logger ?? silent;
  const reasonBytes = options.failureReasonBytes ?? 512;
  let generation = 0;
  let rolloutId: string | null = null;
  let tickers: Ticker[] = [];
  // Reports go out strictly in order, across probes too.
  let emitting: Promise<void> = Promise.resolve();

  const emit = (rid: string, gen: number, events: ProbeEvent[]): Promise<void> => {
    emitting = emitting.then(async () => {
      for (const event of events) {
        // A reset or stop since this result was produced: the result belongs to a dead generation.
        if (gen !== generation) return;
        try {
          await options.emit({ rolloutId: rid, event });
        } catch (error) {
          log.error(
            { rolloutId: rid, event: event.type, error: (error as Error).message },
            'probes: cannot report',
          );
        }
      }
    });
    return emitting;
  };

  const halt = (): void => {
    generation++;
    for (const t of tickers) {
      if (t.timer !== null) clock.clearTimeout(t.timer);
      t.run?.kill();
    }
    tickers = [];
  };

  const tick = (t: Ticker, rid: string, gen: number): void => {
    t.timer = null;
    if (t.configFailure !== null) {
      void settle(t, rid, gen, { status: 'fail', reason: t.configFailure });
      return;
    }
    const run = runProbeCommand(t.decl.argv, t.decl.timeoutMs, clock);
    t.run = run;
    void run.done.then((r) => settle(t, rid, gen, probeVerdict(r, reasonBytes)));
  };

  const settle = async (t: Ticker, rid: string, gen: number, v: ProbeVerdict): Promise<void> => {
    if (gen !== generation) return;
    t.run = null;
    const observedAt = clock.now().toISOString();
    const { name, mode } = t.decl;
    const events: ProbeEvent[] = [];
    if (!t.observed)
      events.push({ type: 'LocalProbeObservedFirst', probeName: name, mode, observedAt, seq: 0 });
    events.push({
      type: 'LocalProbeResult',
      probeName: name,
      mode,
      status: v.status,
      observedAt,
      failureReason: v.status === 'fail' ? v.reason : null,
      subResults: null,
      seq: 0,
    });
    if (v.status === 'fail' && t.lastStatus !== 'fail') {
      events.push({
        type: 'LocalProbeFailureFirst',
        probeName: name,
        mode,
        firstFailedAt: observedAt,
        seq: 0,
      });
    }
    t.observed = true;
    t.lastStatus = v.status;
    // Scheduled before the events go out, so the next run's timer exists once they are visible.
    t.timer = clock.setTimeout(() => tick(t, rid, gen), t.decl.intervalMs);
    log.debug({ rolloutId: rid, probe: name, status: v.status }, 'probes: result');
    await emit(rid, gen, events);
  };

  return {
    async reset(rid) {
      halt();
      const gen = generation;
      rolloutId = rid;
      const loaded = await loadProbesFile(options.probesFile);
      if (gen !== generation) return { rolloutId: rid, outcome: 'none', running: [] };
      const declaredAt = clock.now().toISOString();
      if (loaded.ok && loaded.probes === null) {
        log.info(
          { rolloutId: rid, file: options.probesFile },
          'probes: no probes file; no health checks declared',
        );
        return { rolloutId: rid, outcome: 'none', running: [] };
      }
      let decls: ProbeDecl[];
      let failure: string | null = null;
      if (!loaded.ok) {
        log.error(
          { rolloutId: rid, error: loaded.error },
          'probes: the probes file is unusable; declaring it as a failing probe',
        );
        failure = utf8Tail(Buffer.from(loaded.error.message), reasonBytes);
        decls = [{ name: PROBES_FILE_PROBE, argv: [], intervalMs: 30_000, timeoutMs: 1, mode: 'enforce' }];
      } else decls = loaded.probes ?? [];
      await emit(rid, gen, [
        {
          type: 'LocalProbeTopologyDeclared',
          probes: decls.map((d) => ({
            probeName: d.name,
            kind: d.argv.length === 0 ? 'config' : 'exec',
            mode: d.mode,
          })),
          declaredAt,
          seq: 0,
        },
      ]);
      if (gen !== generation) return { rolloutId: rid, outcome: 'none', running: [] };
      tickers = decls
        .filter((d) => d.mode !== 'disabled')
        .map((decl) => ({
          decl,
          configFailure: failure,
          observed: false,
          lastStatus: null,
          timer: null,
          run: null,
        }));
      for (const t of tickers) tick(t, rid, gen);
      return {
        rolloutId: rid,
        outcome: failure === null ? 'declared' : 'invalid',
        running: tickers.map((t) => t.decl.name),
      };
    },
    stop() {
      halt();
      rolloutId = null;
    },
    activeRollout() {
      return rolloutId;
    },
  };
}

export type ProbeVerdict = { status: 'pass' } | { status: 'fail'; reason: string };

/** Exit 0 passes; anything else fails with a reason built from the output's tail. */
export function probeVerdict(run: ProbeRun, reasonBytes: number): ProbeVerdict {
  const output = (run.stderr.toString('utf8').trim() === '' ? run.stdout : run.stderr)
    .toString('utf8')
    .trim();
  let head: string;
  switch (run.end.kind) {
    case 'exited':
      if (run.end.code === 0) return { status: 'pass' };
      head = `exit ${run.end.code}`;
      break;
    case 'signaled':
      head = `killed by ${run.end.signal}`;
      break;
    case 'timeout':
      head = `timed out after ${run.end.timeoutMs / 1000}s (killed)`;
      break;
    case 'spawn-error':
      head = `could not run: ${run.end.message}`;
      break;
  }
  if (output === '') return { status: 'fail', reason: head };
  const prefix = `${head}: `;
  const room = Math.max(0, reasonBytes - Buffer.byteLength(prefix));
  return { status: 'fail', reason: `${prefix}${utf8Tail(Buffer.from(output), room)}` };
}
