// The activation worker (spec §6.11, contract §2): executes the applier's `LocalFireSwitch` and
// `LocalFireRollbackTo` effects one at a time, in arrival order, and reports Local events back to
// the reducer (seq 0: the single mutator numbers them, spec §2.9).
//
// Switch: ActivationStarted first, then run `--switch-command` with `{closure}` substituted, then
// verify — activation is never assumed: the `--current-system-path` link must name the target
// before `--activation-timeout` (counted from the start, command included) fires.
//   exit ≠ 0                                   → ActivationFailed{exitCode, stderrTail}
//   exit 0 + a line `nixfleet-deferred: <c>`   → ActivationDeferred{component: c}   (see below)
//   exit 0, link names the target              → ActivationCompleted{observedCurrentClosure}
//   exit 0, link names a third closure         → ActivationFailed{-3}
//   still running / link unchanged at timeout  → ActivationFailed{-1 / -4}
//
// Switch inhibitors (spec §6.11 step 7): some changes (dbus, systemd, the kernel) cannot be
// live-switched; the switch command then stages the closure for the next boot
// (`switch-to-configuration boot`) instead of switching. The RULE: such a command prints a line
// `nixfleet-deferred: <component>` (stdout or stderr; e.g. `nixfleet-deferred: dbus`) and exits 0.
// The agent then reports ActivationDeferred without polling the link, which will only change after
// the reboot (the CP's heartbeat synthesis completes it then, spec §7.4).
//
// Rollback (spec §10 G6): `--rollback-command` with `{closure}` = the effect's explicit closure —
// the pre-dispatch closure the chart recorded, never "the previous generation"; verified the same
// way → RollbackCompleted, or RollbackFailed (which the original lost as an illegal
// ActivationFailed).
//
// Exactly once: each attempt is recorded in `activations/<rolloutId>.json` before its command
// starts. A repeated intent for the same rollout and target never runs the command again: an ended
// attempt has its outcome reported again, an interrupted one is verified (`resume`).
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import type { Clock } from '../../actors/index.ts';
import type { HostEffect, LocalEventOf } from '../../machines/index.ts';
import {
  type ActivationAttempt,
  type ActivationRecord,
  type AttemptKind,
  type AttemptOutcome,
  activationPaths,
  readActivationRecord,
  writeActivationRecord,
} from './activationRecord.ts';
import { expandArgv, splitCommandLine } from './commandLine.ts';
import { closureBasename, readCurrentClosure } from './currentSystem.ts';
import {
  detectSystemdRun,
  isStillRunning,
  type LaunchExit,
  type Launched,
  launchChild,
  launchSystemdRun,
  type SystemdRunOptions,
} from './launcher.ts';
import { readFileTail } from './outputTail.ts';

/** Agent-side exit codes for outcomes without a command exit status (spec §6.11 uses −1…−3). */
export const ACTIVATION_EXIT = {
  /** The command could not start, was killed by a signal, or had not exited by the timeout. */
  unknown: -1,
  /** The closure could not be realised: no trusted signature (the original's SignatureMismatch). */
  signatureMismatch: -2,
  /** The link moved to a closure that is neither the one before the switch nor the target. */
  verifyMismatch: -3,
  /** The command exited 0 but the link did not name the target before the timeout. */
  verifyTimeout: -4,
  /** A rollback without a recorded pre-dispatch closure (`""`), or a record the agent cannot read. */
  refused: -5,
} as const;

export const DEFERRED_MARKER = 'nixfleet-deferred:';

/** The applier's activation effects, passed through unchanged. */
export type ActivationIntent = Extract<HostEffect, { type: 'LocalFireSwitch' | 'LocalFireRollbackTo' }>;

export type ActivationEvent =
  | LocalEventOf<'ActivationStarted'>
  | LocalEventOf<'ActivationCompleted'>
  | LocalEventOf<'ActivationDeferred'>
  | LocalEventOf<'ActivationFailed'>
  | LocalEventOf<'RollbackComplete'>
  | LocalEventOf<'RollbackFailed'>;

/** What the worker hands the reducer: a `HostEvent{rolloutId, event}` input (spec §6.3). */
export interface ActivationReport {
  rolloutId: string;
  event: ActivationEvent;
}

export interface ActivationResult {
  rolloutId: string;
  kind: AttemptKind;
  /** `ran`: the command ran now; `resumed`: an interrupted attempt was verified; `reported`: an
   *  ended attempt's outcome was reported again; `refused`: nothing could safely run. */
  disposition: 'ran' | 'resumed' | 'reported' | 'refused';
  outcome: AttemptOutcome;
}

export type ActivationInspection =
  | { status: 'never-ran' }
  | { status: 'ended'; kind: AttemptKind; attempt: ActivationAttempt }
  | {
      status: 'interrupted';
      kind: AttemptKind;
      attempt: ActivationAttempt;
      /** Whether its command still runs; null when that cannot be told. */
      running: boolean | null;
      currentClosure: string | null;
    }
  | { status: 'unreadable'; message: string };

/** The logger surface the worker uses (pino's). */
export interface ActivationLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

const silent: ActivationLogger = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };

export interface ActivationWorkerOptions {
  /** `--state-dir`: activation records and command output go to `<stateDir>/activations/`. */
  stateDir: string;
  /** `--current-system-path`. Default in production: /run/current-system. */
  currentSystemPath: string;
  /** `--switch-command` template; `{closure}` = the target's store path, `{closureName}` its basename. */
  switchCommand: string;
  /** `--rollback-command` template; `{closure}` = the rollback target's store path. */
  rollbackCommand: string;
  /** Where closure basenames live. Default /nix/store. */
  storeDir?: string;
  /** `--activation-timeout`, ms, from the command's start. Default 300 s (spec Appendix A). */
  activationTimeoutMs?: number;
  /** Link poll cadence, ms. Default 2 s (spec §2.8). */
  pollIntervalMs?: number;
  /**
   * `auto` (default): systemd-run when systemd runs this host, else a detached child; `always`:
   * systemd-run or nothing (fails the activation if unavailable); `never`: always a child.
   */
  detach?: 'auto' | 'always' | 'never';
  systemdRun?: SystemdRunOptions;
  /** `systemctl`, to ask whether an interrupted attempt's unit still runs. */
  systemctl?: string;
  /** Bytes of output kept in `stderrTail`. Default 1024 (the original kept 500; unit failure summaries run longer). */
  stderrTailBytes?: number;
  clock: Clock;
  /** Delivers a report to the reducer's input queue; awaited, so back-pressure reaches the worker. */
  emit: (report: ActivationReport) => void | Promise<void>;
  logger?: ActivationLogger;
}

export interface ActivationWorker {
  /** Queues an intent; resolves once it ended and its events were emitted. */
  handle(intent: ActivationIntent): Promise<ActivationResult>;
  /**
   * After a restart: finishes an interrupted attempt of the rollout by verifying the link (the
   * command is never run again). Resolves `never-ran` when no attempt was recorded — the caller
   * decides whether to fire the switch — or the attempt's state when it had already ended.
   */
  resume(rolloutId: string): Promise<ActivationResult | { rolloutId: string; disposition: 'never-ran' }>;
  /** What the state dir says about the rollout's activation, without acting on it. */
  inspect(rolloutId: string): Promise<ActivationInspection>;
  /** Resolves when every queued intent has been handled. */
  idle(): Promise<void>;
}

export type CreateActivationWorkerResult =
  | { ok: true; worker: ActivationWorker }
  | { ok: false; error: { code: 'InvalidCommandLine'; flag: string; message: string } };

export function createActivationWorker(options: ActivationWorkerOptions): CreateActivationWorkerResult {
  const switchArgv = splitCommandLine(options.switchCommand);
  if (!switchArgv.ok) {
    return {
      ok: false,
      error: { code: 'InvalidCommandLine', flag: '--switch-command', message: switchArgv.error.message },
    };
  }
  const rollbackArgv = splitCommandLine(options.rollbackCommand);
  if (!rollbackArgv.ok) {
    return {
      ok: false,
      error: { code: 'InvalidCommandLine', flag: '--rollback-command', message: rollbackArgv.error.message },
    };
  }
  return { ok: true, worker: new Worker(options, switchArgv.argv, rollbackArgv.argv) };
}

type Verification =
  | { kind: 'reached'; observed: string }
  | { kind: 'mismatch'; observed: string }
  | { kind: 'timeout'; observed: string | null };

const SIGNATURE_PHRASES = [
  'lacks a valid signature',
  'no signature is trusted',
  'is not signed by any of the keys',
  'no signatures matched',
  'signature mismatch',
  'untrusted signature',
];

class Worker implements ActivationWorker {
  readonly #o: ActivationWorkerOptions;
  readonly #argv: Record<AttemptKind, readonly string[]>;
  readonly #log: ActivationLogger;
  readonly #timeoutMs: number;
  readonly #pollMs: number;
  readonly #tailBytes: number;
  #systemd: Promise<boolean> | undefined;
  #queue: Promise<unknown> = Promise.resolve();

  constructor(options: ActivationWorkerOptions, switchArgv: string[], rollbackArgv: string[]) {
    this.#o = options;
    this.#argv = { switch: switchArgv, rollback: rollbackArgv };
    this.#log = options.logger ?? silent;
    this.#timeoutMs = options.activationTimeoutMs ?? 300_000;
    this.#pollMs = options.pollIntervalMs ?? 2_000;
    this.#tailBytes = options.stderrTailBytes ?? 1024;
  }

  handle(intent: ActivationIntent): Promise<ActivationResult> {
    return this.#serial(() =>
      intent.type === 'LocalFireSwitch'
        ? this.#attempt('switch', intent.rolloutId, intent.target)
        : this.#attempt('rollback', intent.rolloutId, intent.closure),
    );
  }

  resume(rolloutId: string): Promise<ActivationResult | { rolloutId: string; disposition: 'never-ran' }> {
    return this.#serial(async () => {
      const read = await readActivationRecord(this.#o.stateDir, rolloutId);
      if (!read.ok)
        return this.#refuse(
          'switch',
          rolloutId,
          '',
          `cannot read the activation record: ${read.error.message}`,
        );
      const record = read.record;
      // The rollback is the later attempt: if one was recorded, it is the one to finish.
      const kind: AttemptKind | null = record?.rollback ? 'rollback' : record?.switch ? 'switch' : null;
      if (record === null || kind === null) return { rolloutId, disposition: 'never-ran' as const };
      const attempt = record[kind] as ActivationAttempt;
      if (attempt.outcome !== null) {
        // The events may not have reached the reducer before the crash; the chart refuses them if
        // they did, so reporting again is safe.
        await this.#report(kind, rolloutId, attempt.outcome, attempt.target);
        return { rolloutId, kind, disposition: 'reported' as const, outcome: attempt.outcome };
      }
      return this.#finishInterrupted(kind, record, attempt);
    });
  }

  async inspect(rolloutId: string): Promise<ActivationInspection> {
    const read = await readActivationRecord(this.#o.stateDir, rolloutId);
    if (!read.ok) return { status: 'unreadable', message: read.error.message };
    const record = read.record;
    const kind: AttemptKind | null = record?.rollback ? 'rollback' : record?.switch ? 'switch' : null;
    if (record === null || kind === null) return { status: 'never-ran' };
    const attempt = record[kind] as ActivationAttempt;
    if (attempt.outcome !== null) return { status: 'ended', kind, attempt };
    const running = await isStillRunning(
      attempt,
      this.#o.systemctl === undefined ? {} : { systemctl: this.#o.systemctl },
    );
    return {
      status: 'interrupted',
      kind,
      attempt,
      running,
      currentClosure: await readCurrentClosure(this.#o.currentSystemPath),
    };
  }

  idle(): Promise<void> {
    return this.#queue.then(() => undefined);
  }

  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(fn, fn);
    this.#queue = run.catch(() => undefined);
    return run;
  }

  async #attempt(kind: AttemptKind, rolloutId: string, closure: string): Promise<ActivationResult> {
    if (kind === 'rollback' && closure === '') {
      // The chart stores "" when /run/current-system was missing at dispatch: there is nothing
      // known-good to go back to, and guessing ("previous generation") is the defect G6 fixed.
      return this.#refuse(
        kind,
        rolloutId,
        closure,
        'no pre-dispatch closure was recorded; nothing to roll back to',
      );
    }
    const target = closureBasename(closure);
    const read = await readActivationRecord(this.#o.stateDir, rolloutId);
    if (!read.ok) {
      // Unknown whether the command already ran: running it again could switch twice.
      return this.#refuse(
        kind,
        rolloutId,
        closure,
        `cannot read the activation record: ${read.error.message}`,
      );
    }
    const record: ActivationRecord = read.record ?? { version: 1, rolloutId, switch: null, rollback: null };
    const earlier = record[kind];
    if (earlier !== null && earlier.target === target) {
      if (earlier.outcome !== null) {
        this.#log.info(
          { rolloutId, kind, outcome: earlier.outcome.kind },
          'activation: already ran; reporting its outcome again',
        );
        await this.#report(kind, rolloutId, earlier.outcome, target);
        return { rolloutId, kind, disposition: 'reported', outcome: earlier.outcome };
      }
      this.#log.warn(
        { rolloutId, kind },
        'activation: an earlier attempt was interrupted; verifying instead of running again',
      );
      return this.#finishInterrupted(kind, record, earlier);
    }

    const startedMs = this.#o.clock.now().getTime();
    const startedAt = new Date(startedMs).toISOString();
    const method = (await this.#useSystemd()) ? 'systemd-run' : 'child';
    if (kind === 'switch') {
      await this.#emit(rolloutId, {
        type: 'LocalActivationStarted',
        startedAt,
        switchMethod: method,
        seq: 0,
      });
    }
    if (this.#o.detach === 'always' && method !== 'systemd-run') {
      return this.#end(
        kind,
        record,
        null,
        target,
        this.#failed(
          ACTIVATION_EXIT.unknown,
          'systemd-run is not available on this host and --detach=always',
        ),
      );
    }
    const paths = activationPaths(this.#o.stateDir, rolloutId);
    const unit = `nixfleet-${kind}-${createHash('sha256').update(rolloutId).digest('hex').slice(0, 16)}`;
    const attempt: ActivationAttempt = {
      target,
      startedAt,
      method,
      unit: method === 'systemd-run' ? unit : null,
      pid: null,
      priorClosure: await readCurrentClosure(this.#o.currentSystemPath),
      outcome: null,
    };
    try {
      // Written before the command starts: from here on a restart knows the command may have run.
      await writeActivationRecord(this.#o.stateDir, { ...record, [kind]: attempt });
    } catch (error) {
      return this.#end(
        kind,
        record,
        null,
        target,
        this.#failed(
          ACTIVATION_EXIT.unknown,
          `cannot record the activation, so it was not started: ${(error as Error).message}`,
        ),
      );
    }

    const storePath = closure.includes('/') ? closure : join(this.#o.storeDir ?? '/nix/store', closure);
    const spec = {
      argv: expandArgv(this.#argv[kind], { closure: storePath, closureName: target }),
      unit,
      stdoutPath: paths.stdout(kind),
      stderrPath: paths.stderr(kind),
    };
    this.#log.info({ rolloutId, kind, target, method, argv: spec.argv }, 'activation: starting');
    let launched: Launched;
    try {
      launched =
        method === 'systemd-run' ? await launchSystemdRun(spec, this.#o.systemdRun) : await launchChild(spec);
    } catch (error) {
      return this.#end(
        kind,
        record,
        attempt,
        target,
        this.#failed(ACTIVATION_EXIT.unknown, `cannot start the command: ${(error as Error).message}`),
      );
    }
    if (launched.pid !== null && method === 'child') {
      attempt.pid = launched.pid;
      await writeActivationRecord(this.#o.stateDir, { ...record, [kind]: attempt }).catch(() => undefined);
    }

    const deadlineMs = startedMs + this.#timeoutMs;
    const exit = await this.#untilDeadline(launched.exited, deadlineMs);
    const tail = () => readFileTail(spec.stderrPath, this.#tailBytes);
    if (exit === 'timeout') {
      // Not killed: a switch-to-configuration interrupted half-way leaves the system in a worse
      // state than one that finishes late; NixOS's own switch lock keeps a later rollback from
      // running concurrently with it.
      const secs = Math.round(this.#timeoutMs / 1000);
      return this.#end(
        kind,
        record,
        attempt,
        target,
        this.#failed(
          ACTIVATION_EXIT.unknown,
          `${await tail()}\nnixfleet-agent: the command was still running after ${secs}s (left running)`,
        ),
      );
    }
    if (exit.exitCode !== 0) {
      return this.#end(kind, record, attempt, target, await this.#commandFailed(exit, await tail()));
    }
    if (kind === 'switch') {
      const component = await this.#deferredComponent(spec.stdoutPath, spec.stderrPath);
      if (component !== null) {
        return this.#end(kind, record, attempt, target, { kind: 'deferred', at: this.#nowIso(), component });
      }
    }
    const verified = await this.#verify(target, attempt.priorClosure, deadlineMs);
    return this.#end(
      kind,
      record,
      attempt,
      target,
      this.#verifiedOutcome(verified, target, attempt.priorClosure),
    );
  }

  async #finishInterrupted(
    kind: AttemptKind,
    record: ActivationRecord,
    attempt: ActivationAttempt,
  ): Promise<ActivationResult> {
    const paths = activationPaths(this.#o.stateDir, record.rolloutId);
    if (kind === 'switch') {
      const component = await this.#deferredComponent(paths.stdout(kind), paths.stderr(kind));
      if (component !== null) {
        const outcome: AttemptOutcome = { kind: 'deferred', at: this.#nowIso(), component };
        return {
          ...(await this.#end(kind, record, attempt, attempt.target, outcome)),
          disposition: 'resumed',
        };
      }
    }
    // At least one full poll interval, even when the original deadline passed while the agent was down.
    const deadlineMs = Math.max(
      Date.parse(attempt.startedAt) + this.#timeoutMs,
      this.#o.clock.now().getTime() + this.#pollMs,
    );
    const verified = await this.#verify(attempt.target, attempt.priorClosure, deadlineMs);
    const outcome = this.#verifiedOutcome(verified, attempt.target, attempt.priorClosure);
    return { ...(await this.#end(kind, record, attempt, attempt.target, outcome)), disposition: 'resumed' };
  }

  #verifiedOutcome(v: Verification, target: string, prior: string | null): AttemptOutcome {
    const secs = Math.round(this.#timeoutMs / 1000);
    switch (v.kind) {
      case 'reached':
        return { kind: 'completed', at: this.#nowIso(), observedClosure: v.observed };
      case 'mismatch':
        return this.#failed(
          ACTIVATION_EXIT.verifyMismatch,
          `nixfleet-agent: ${this.#o.currentSystemPath} names ${v.observed}, neither the target ${target} nor the closure before the switch (${prior ?? 'none'})`,
        );
      case 'timeout':
        return this.#failed(
          ACTIVATION_EXIT.verifyTimeout,
          `nixfleet-agent: ${this.#o.currentSystemPath} still names ${v.observed ?? 'nothing'} ${secs}s after the start, not the target ${target}`,
        );
    }
  }

  async #commandFailed(exit: LaunchExit, stderrTail: string): Promise<AttemptOutcome> {
    const text = [stderrTail, exit.note === null ? '' : `nixfleet-agent: ${exit.note}`]
      .filter((s) => s !== '')
      .join('\n');
    if (exit.exitCode === null) return this.#failed(ACTIVATION_EXIT.unknown, text);
    const lower = stderrTail.toLowerCase();
    const signature = SIGNATURE_PHRASES.some((p) => lower.includes(p));
    return this.#failed(signature ? ACTIVATION_EXIT.signatureMismatch : exit.exitCode, text);
  }

  #failed(exitCode: number, stderrTail: string): AttemptOutcome {
    return { kind: 'failed', at: this.#nowIso(), exitCode, stderrTail };
  }

  /** Emits the outcome's event, then records the outcome (a crash in between re-verifies on resume). */
  async #end(
    kind: AttemptKind,
    record: ActivationRecord,
    attempt: ActivationAttempt | null,
    target: string,
    outcome: AttemptOutcome,
  ): Promise<ActivationResult> {
    this.#log.info({ rolloutId: record.rolloutId, kind, outcome }, 'activation: ended');
    await this.#report(kind, record.rolloutId, outcome, target);
    if (attempt !== null) {
      await writeActivationRecord(this.#o.stateDir, { ...record, [kind]: { ...attempt, outcome } }).catch(
        (error: unknown) =>
          this.#log.error(
            { rolloutId: record.rolloutId, error: (error as Error).message },
            'activation: cannot record the outcome',
          ),
      );
    }
    return { rolloutId: record.rolloutId, kind, disposition: 'ran', outcome };
  }

  async #refuse(
    kind: AttemptKind,
    rolloutId: string,
    closure: string,
    reason: string,
  ): Promise<ActivationResult> {
    this.#log.error({ rolloutId, kind, reason }, 'activation: refused');
    const outcome = this.#failed(ACTIVATION_EXIT.refused, `nixfleet-agent: ${reason}`);
    await this.#report(kind, rolloutId, outcome, closure);
    return { rolloutId, kind, disposition: 'refused', outcome };
  }

  async #report(
    kind: AttemptKind,
    rolloutId: string,
    outcome: AttemptOutcome,
    target: string,
  ): Promise<void> {
    if (kind === 'switch') {
      switch (outcome.kind) {
        case 'completed':
          return this.#emit(rolloutId, {
            type: 'LocalActivationCompleted',
            observedCurrentClosure: outcome.observedClosure,
            exitCode: 0,
            completedAt: outcome.at,
            seq: 0,
          });
        case 'deferred':
          return this.#emit(rolloutId, {
            type: 'LocalActivationDeferred',
            component: outcome.component,
            deferredAt: outcome.at,
            seq: 0,
          });
        case 'failed':
          return this.#emit(rolloutId, {
            type: 'LocalActivationFailed',
            exitCode: outcome.exitCode,
            stderrTail: outcome.stderrTail,
            failedAt: outcome.at,
            seq: 0,
          });
      }
    }
    if (outcome.kind === 'completed') {
      return this.#emit(rolloutId, {
        type: 'LocalRollbackCompleted',
        revertedToClosure: outcome.observedClosure,
        exitCode: 0,
        completedAt: outcome.at,
        seq: 0,
      });
    }
    const failure =
      outcome.kind === 'failed'
        ? outcome
        : {
            exitCode: ACTIVATION_EXIT.unknown,
            stderrTail: `the rollback was staged for the next boot (${outcome.component})`,
          };
    return this.#emit(rolloutId, {
      type: 'LocalRollbackFailed',
      closure: target,
      exitCode: failure.exitCode,
      stderrTail: failure.stderrTail,
      failedAt: outcome.at,
      seq: 0,
    });
  }

  async #emit(rolloutId: string, event: ActivationEvent): Promise<void> {
    try {
      await this.#o.emit({ rolloutId, event });
    } catch (error) {
      this.#log.error(
        { rolloutId, event: event.type, error: (error as Error).message },
        'activation: cannot report the event',
      );
    }
  }

  async #verify(target: string, prior: string | null, deadlineMs: number): Promise<Verification> {
    for (;;) {
      const observed = await readCurrentClosure(this.#o.currentSystemPath);
      this.#log.debug(
        { phase: 'verify-poll', observed, target },
        'activation: polling the current-system link',
      );
      if (observed === target) return { kind: 'reached', observed };
      if (observed !== null && observed !== prior) return { kind: 'mismatch', observed };
      const now = this.#o.clock.now().getTime();
      if (now >= deadlineMs) return { kind: 'timeout', observed };
      await this.#sleep(Math.min(this.#pollMs, deadlineMs - now));
    }
  }

  async #deferredComponent(stdoutPath: string, stderrPath: string): Promise<string | null> {
    let found: string | null = null;
    for (const path of [stdoutPath, stderrPath]) {
      for (const line of (await readFileTail(path, 4096)).split('\n')) {
        const t = line.trim();
        if (!t.startsWith(DEFERRED_MARKER)) continue;
        const component = t.slice(DEFERRED_MARKER.length).trim();
        if (component !== '') found = component;
      }
    }
    return found;
  }

  #untilDeadline<T>(p: Promise<T>, deadlineMs: number): Promise<T | 'timeout'> {
    const wait = Math.max(0, deadlineMs - this.#o.clock.now().getTime());
    let timer: unknown;
    const timeout = new Promise<'timeout'>((resolve) => {
      timer = this.#o.clock.setTimeout(() => resolve('timeout'), wait);
    });
    return Promise.race([p, timeout]).finally(() => this.#o.clock.clearTimeout(timer));
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.#o.clock.setTimeout(resolve, ms);
    });
  }

  #useSystemd(): Promise<boolean> {
    if (this.#o.detach === 'never') return Promise.resolve(false);
    this.#systemd ??= detectSystemdRun(this.#o.systemdRun);
    return this.#systemd;
  }

  #nowIso(): string {
    return this.#o.clock.now().toISOString();
  }
}
