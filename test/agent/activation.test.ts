// The activation worker (agent/activation) with a real fake switch script that flips a symlink in
// a temp dir and logs each invocation: success, failure, signature refusal, deferral, verify timeout
// and mismatch, a command still running at the timeout, rollback to the explicit closure (G6),
// exactly-once bookkeeping across a restart, and the systemd-run launcher.
import { mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { systemClock } from '../../actors/index.ts';
import {
  ACTIVATION_EXIT,
  type ActivationIntent,
  type ActivationReport,
  type ActivationWorker,
  type ActivationWorkerOptions,
  createActivationWorker,
  detectSystemdRun,
  expandArgv,
  readActivationRecord,
  readCurrentClosure,
  splitCommandLine,
} from '../../agent/activation/index.ts';
import {
  createHostRollout,
  type HostEffect,
  type HostRolloutSnapshot,
  hostStateOf,
  stepHostRollout,
  withNextSeq,
} from '../../machines/index.ts';
import { ManualClock, makeTempDir, settleWhileAdvancing, T0, waitUntil, writeScript } from './support.ts';

const RID = 'stable@c0ffee';
const OLD = 'aaaa-nixos-system-web-01-old';
const NEW = 'bbbb-nixos-system-web-01-new';
const OTHER = 'cccc-nixos-system-web-01-other';

let dir: string;
let cleanup: () => Promise<void>;
let link: string;
let store: string;
let reports: ActivationReport[];

/**
 * `switch.sh <kind> <closure>`: logs `<kind> <closure>`, then behaves per `<dir>/mode.<kind>`:
 * (none) flip the link to the closure · fail · signature · defer · noflip · other · hang (until
 * `<dir>/release` exists, then flip).
 */
async function writeSwitchScript(): Promise<string> {
  return writeScript(
    join(dir, 'switch.sh'),
    `D='${dir}'
kind="$1"; closure="$2"
echo "$kind $closure" >> "$D/invocations.log"
mode=$(cat "$D/mode.$kind" 2>/dev/null)
case "$mode" in
  fail) echo "starting units..."; echo "error: unit nginx.service failed to start" >&2; exit 4 ;;
  signature) echo "error: path '$closure' lacks a valid signature" >&2; exit 1 ;;
  defer) echo "staging for next boot"; echo "nixfleet-deferred: dbus"; exit 0 ;;
  noflip) exit 0 ;;
  other) ln -sfn "$D/store/${OTHER}" "$D/current-system"; exit 0 ;;
  hang) while [ ! -e "$D/release" ]; do sleep 0.02; done ;;
esac
ln -sfn "$closure" "$D/current-system"`,
  );
}

const invocations = async (): Promise<string[]> =>
  (await readFile(join(dir, 'invocations.log'), 'utf8').catch(() => '')).split('\n').filter((l) => l !== '');

function worker(overrides: Partial<ActivationWorkerOptions> = {}): ActivationWorker {
  const created = createActivationWorker({
    stateDir: join(dir, 'state'),
    currentSystemPath: link,
    switchCommand: `${join(dir, 'switch.sh')} switch {closure}`,
    rollbackCommand: `${join(dir, 'switch.sh')} rollback {closure}`,
    storeDir: store,
    activationTimeoutMs: 10_000,
    pollIntervalMs: 10,
    detach: 'never',
    clock: systemClock,
    emit: (r) => {
      reports.push(r);
    },
    ...overrides,
  });
  if (!created.ok) throw new Error(created.error.message);
  return created.worker;
}

const switchTo = (target: string, rolloutId = RID): ActivationIntent => ({
  type: 'LocalFireSwitch',
  rolloutId,
  target,
});
const types = () => reports.map((r) => r.event.type);

beforeEach(async () => {
  ({ dir, cleanup } = await makeTempDir('activation'));
  store = join(dir, 'store');
  for (const c of [OLD, NEW, OTHER]) await mkdir(join(store, c), { recursive: true });
  link = join(dir, 'current-system');
  await symlink(join(store, OLD), link);
  await writeSwitchScript();
  reports = [];
});
afterEach(async () => {
  await writeFile(join(dir, 'release'), '');
  await cleanup();
});

describe('switch', () => {
  it('runs the command once, verifies the link and reports Started then Completed', async () => {
    const w = worker();
    const result = await w.handle({ type: 'LocalFireSwitch', rolloutId: RID, target: NEW });
    expect(result).toMatchObject({
      disposition: 'ran',
      outcome: { kind: 'completed', observedClosure: NEW },
    });
    expect(types()).toEqual(['LocalActivationStarted', 'LocalActivationCompleted']);
    expect(reports[0]?.event).toMatchObject({ switchMethod: 'child', seq: 0 });
    expect(reports[1]).toMatchObject({
      rolloutId: RID,
      event: { observedCurrentClosure: NEW, exitCode: 0, seq: 0 },
    });
    expect(await invocations()).toEqual([`switch ${join(store, NEW)}`]);
    expect(await readCurrentClosure(link)).toBe(NEW);
    const record = await readActivationRecord(join(dir, 'state'), RID);
    expect(record).toMatchObject({
      ok: true,
      record: { switch: { target: NEW, method: 'child', priorClosure: OLD, outcome: { kind: 'completed' } } },
    });
  });

  it('reports a non-zero exit with its code and stderr tail', async () => {
    await writeFile(join(dir, 'mode.switch'), 'fail');
    await worker().handle(switchTo(NEW));
    expect(types()).toEqual(['LocalActivationStarted', 'LocalActivationFailed']);
    expect(reports[1]?.event).toMatchObject({ exitCode: 4 });
    const e = reports[1]?.event as { stderrTail: string };
    expect(e.stderrTail).toContain('unit nginx.service failed to start');
    expect(e.stderrTail).not.toContain('starting units');
  });

  it('reports an untrusted-signature refusal as exit code -2', async () => {
    await writeFile(join(dir, 'mode.switch'), 'signature');
    await worker().handle(switchTo(NEW));
    expect(reports[1]?.event).toMatchObject({
      type: 'LocalActivationFailed',
      exitCode: ACTIVATION_EXIT.signatureMismatch,
    });
  });

  it('reports ActivationDeferred{component} when the command prints the nixfleet-deferred marker and exits 0', async () => {
    await writeFile(join(dir, 'mode.switch'), 'defer');
    const result = await worker().handle(switchTo(NEW));
    expect(types()).toEqual(['LocalActivationStarted', 'LocalActivationDeferred']);
    expect(reports[1]?.event).toMatchObject({ component: 'dbus' });
    expect(result.outcome).toMatchObject({ kind: 'deferred', component: 'dbus' });
    expect(await readCurrentClosure(link)).toBe(OLD);
  });

  it('fails with -3 when the link moves to a closure that is neither the prior one nor the target', async () => {
    await writeFile(join(dir, 'mode.switch'), 'other');
    await worker().handle(switchTo(NEW));
    expect(reports[1]?.event).toMatchObject({
      type: 'LocalActivationFailed',
      exitCode: ACTIVATION_EXIT.verifyMismatch,
    });
  });

  it('fails with -4 when the command exits 0 but the link never names the target before the timeout', async () => {
    await writeFile(join(dir, 'mode.switch'), 'noflip');
    const clock = new ManualClock();
    const polls: number[] = [];
    const w = worker({
      clock,
      activationTimeoutMs: 300_000,
      pollIntervalMs: 2_000,
      logger: {
        debug: (o) => {
          if ((o as { phase?: string }).phase === 'verify-poll')
            polls.push(clock.now().getTime() - Date.parse(T0));
        },
        info: () => {},
        warn: () => {},
        error: () => {},
      },
    });
    const done = w.handle(switchTo(NEW));
    // Only once the command has exited and polling began does the test move time.
    await waitUntil(() => polls.length > 0, 'the first link poll');
    let settled = false;
    void done.finally(() => {
      settled = true;
    });
    // One poll interval per observed poll: the link is read every 2 s until the 300 s deadline.
    for (let seen = 0; !settled; ) {
      await waitUntil(() => settled || polls.length > seen, 'the next link poll');
      seen = polls.length;
      if (!settled) clock.advance(2_000);
    }
    const result = await done;
    expect(result.outcome).toMatchObject({ kind: 'failed', exitCode: ACTIVATION_EXIT.verifyTimeout });
    expect((result.outcome as { stderrTail: string }).stderrTail).toContain(
      `still names ${OLD} 300s after the start`,
    );
    expect(polls).toEqual(Array.from({ length: 151 }, (_, i) => i * 2_000));
  });

  it('fails with -1 (and leaves the command running) when the command itself outlives the timeout', async () => {
    await writeFile(join(dir, 'mode.switch'), 'hang');
    const clock = new ManualClock();
    const w = worker({ clock, activationTimeoutMs: 300_000 });
    const done = w.handle(switchTo(NEW));
    await waitUntil(async () => (await invocations()).length === 1, 'the switch command to start');
    const result = await settleWhileAdvancing(done, clock, 300_000);
    expect(result.outcome).toMatchObject({ kind: 'failed', exitCode: ACTIVATION_EXIT.unknown });
    expect((result.outcome as { stderrTail: string }).stderrTail).toContain('still running after 300s');
    const inspection = await w.inspect(RID);
    expect(inspection).toMatchObject({ status: 'ended', kind: 'switch' });
  });

  it('is exactly-once: a repeated intent reports the recorded outcome instead of switching again', async () => {
    const w = worker();
    await w.handle(switchTo(NEW));
    reports = [];
    const again = await worker().handle(switchTo(NEW));
    expect(again.disposition).toBe('reported');
    expect(types()).toEqual(['LocalActivationCompleted']);
    expect(await invocations()).toHaveLength(1);
  });

  it('after a restart mid-switch, resume verifies the running attempt without starting it again', async () => {
    await writeFile(join(dir, 'mode.switch'), 'hang');
    const first = worker();
    const firstRun = first.handle(switchTo(NEW));
    await waitUntil(async () => {
      const read = await readActivationRecord(join(dir, 'state'), RID);
      return read.ok && read.record?.switch?.pid !== null && read.record?.switch?.pid !== undefined;
    }, 'the attempt to be recorded with its pid');

    // A second agent process over the same state dir (the first "crashed" mid-activation).
    const restartedReports: ActivationReport[] = [];
    const restarted = worker({ emit: (r) => void restartedReports.push(r) });
    expect(await restarted.inspect(RID)).toMatchObject({
      status: 'interrupted',
      kind: 'switch',
      running: true,
      currentClosure: OLD,
    });
    expect(await restarted.inspect('edge@other')).toEqual({ status: 'never-ran' });
    expect(await restarted.resume('edge@other')).toEqual({
      rolloutId: 'edge@other',
      disposition: 'never-ran',
    });

    const resumed = restarted.resume(RID);
    await writeFile(join(dir, 'release'), '');
    expect(await resumed).toMatchObject({
      disposition: 'resumed',
      outcome: { kind: 'completed', observedClosure: NEW },
    });
    expect(restartedReports.map((r) => r.event.type)).toEqual(['LocalActivationCompleted']);
    await firstRun;
    expect(await invocations()).toHaveLength(1);
  });

  it('refuses to run when the activation record cannot be read (it may already have run)', async () => {
    await mkdir(join(dir, 'state', 'activations'), { recursive: true });
    await writeFile(join(dir, 'state', 'activations', `${RID}.json`), '{"torn');
    const result = await worker().handle(switchTo(NEW));
    expect(result).toMatchObject({ disposition: 'refused', outcome: { exitCode: ACTIVATION_EXIT.refused } });
    expect(await invocations()).toEqual([]);
  });
});

describe('rollback (G6)', () => {
  it('switches to the explicit closure of the effect and reports RollbackCompleted', async () => {
    // The host switched OLD → NEW → OTHER outside this rollout; "the previous generation" would be
    // NEW, the recorded pre-dispatch closure is OLD.
    await worker().handle(switchTo(NEW, 'stable@one'));
    await worker().handle(switchTo(OTHER));
    reports = [];
    const result = await worker().handle({ type: 'LocalFireRollbackTo', rolloutId: RID, closure: OLD });
    expect(result.outcome).toMatchObject({ kind: 'completed', observedClosure: OLD });
    expect(reports.map((r) => r.event)).toEqual([
      expect.objectContaining({
        type: 'LocalRollbackCompleted',
        revertedToClosure: OLD,
        exitCode: 0,
        seq: 0,
      }),
    ]);
    expect((await invocations()).at(-1)).toBe(`rollback ${join(store, OLD)}`);
    expect(await readCurrentClosure(link)).toBe(OLD);
  });

  it('reports RollbackFailed with the closure, exit code and stderr tail', async () => {
    await writeFile(join(dir, 'mode.rollback'), 'fail');
    await worker().handle({ type: 'LocalFireRollbackTo', rolloutId: RID, closure: OLD });
    expect(reports.map((r) => r.event)).toEqual([
      expect.objectContaining({ type: 'LocalRollbackFailed', closure: OLD, exitCode: 4 }),
    ]);
  });

  it('refuses a rollback to "" (no pre-dispatch closure was known) without running anything', async () => {
    await worker().handle({ type: 'LocalFireRollbackTo', rolloutId: RID, closure: '' });
    expect(reports.map((r) => r.event)).toEqual([
      expect.objectContaining({
        type: 'LocalRollbackFailed',
        closure: '',
        exitCode: ACTIVATION_EXIT.refused,
      }),
    ]);
    expect(await invocations()).toEqual([]);
  });
});

describe('driven by the chart', () => {
  /** A minimal single mutator: number the worker's event, step, collect the effects. */
  function apply(snapshot: HostRolloutSnapshot, report: ActivationReport) {
    const r = stepHostRollout(snapshot, withNextSeq(snapshot.context, report.event));
    if (!r.ok) throw new Error(JSON.stringify(r.error));
    return r;
  }

  async function dispatched(rolloutId: string) {
    const created = createHostRollout({
      rolloutId,
      hostname: 'web-01',
      channel: 'stable',
      targetClosure: NEW,
      dispatchedAt: T0,
      onHealthFailure: 'rollback-and-halt',
    });
    const r = stepHostRollout(created, {
      type: 'LocalActivate',
      seq: 1,
      currentClosureAtDispatch: (await readCurrentClosure(link)) ?? '',
      receivedAt: T0,
      targetClosure: NEW,
      soakDueAt: null,
    });
    if (!r.ok) throw new Error('LocalActivate refused');
    const fire = r.effects.find((e) => e.type === 'LocalFireSwitch');
    if (fire?.type !== 'LocalFireSwitch') throw new Error('no LocalFireSwitch');
    return { snapshot: r.snapshot, fire };
  }

  /** Feeds every report to the chart; returns the last snapshot and every effect produced. */
  function feedAll(snapshot: HostRolloutSnapshot) {
    const effects: HostEffect[] = [];
    let s = snapshot;
    for (const report of reports.splice(0)) {
      const r = apply(s, report);
      s = r.snapshot;
      effects.push(...r.effects);
    }
    return { snapshot: s, effects };
  }

  it('FireSwitch → Started, Completed → Soaking with a probe-cache reset', async () => {
    const { snapshot, fire } = await dispatched(RID);
    await worker().handle(fire);
    const after = feedAll(snapshot);
    expect(hostStateOf(after.snapshot)).toBe('Soaking');
    expect(after.snapshot.context.currentClosure).toBe(NEW);
    expect(after.effects.map((e) => e.type)).toContain('LocalResetProbeCache');
  });

  it('ActivationFailed under rollback-and-halt → FireRollbackTo(pre-dispatch closure) → Reverted', async () => {
    const w = worker();
    const { snapshot, fire } = await dispatched(RID);
    await writeFile(join(dir, 'mode.switch'), 'fail');
    await w.handle(fire);
    const failed = feedAll(snapshot);
    expect(hostStateOf(failed.snapshot)).toBe('Failed');
    const rollback = failed.effects.find((e) => e.type === 'LocalFireRollbackTo');
    expect(rollback).toEqual({ type: 'LocalFireRollbackTo', rolloutId: RID, closure: OLD });
    if (rollback?.type !== 'LocalFireRollbackTo') throw new Error('unreachable');

    await w.handle(rollback);
    const reverted = feedAll(failed.snapshot);
    expect(hostStateOf(reverted.snapshot)).toBe('Reverted');
    expect(reverted.snapshot.context.revertedTo).toBe(OLD);
  });
});

describe('systemd-run launcher', () => {
  it('is detected only when systemd runs the host and the binary exists', async () => {
    const fake = await writeScript(join(dir, 'systemd-run'), 'exit 0');
    const runtimeDir = join(dir, 'run-systemd-system');
    expect(await detectSystemdRun({ binary: fake, runtimeDir })).toBe(false);
    await mkdir(runtimeDir);
    expect(await detectSystemdRun({ binary: fake, runtimeDir })).toBe(true);
    expect(await detectSystemdRun({ binary: join(dir, 'missing'), runtimeDir })).toBe(false);
  });

  it('runs the command as a transient collected unit with output to the state dir', async () => {
    const runtimeDir = join(dir, 'run-systemd-system');
    await mkdir(runtimeDir);
    // Stands in for systemd-run: logs its arguments, honours the append: outputs, runs argv after --.
    const fake = await writeScript(
      join(dir, 'systemd-run'),
      `echo "$*" >> '${dir}/systemd-run.log'
out=/dev/null; err=/dev/null
while [ $# -gt 0 ]; do
  case "$1" in
    --) shift; break ;;
    -p) shift; case "$1" in StandardOutput=append:*) out="\${1#StandardOutput=append:}" ;; StandardError=append:*) err="\${1#StandardError=append:}" ;; esac ;;
  esac
  shift
done
"$@" >>"$out" 2>>"$err"`,
    );
    await writeFile(join(dir, 'mode.switch'), 'fail');
    const w = worker({ detach: 'auto', systemdRun: { binary: fake, runtimeDir } });
    const result = await w.handle(switchTo(NEW));
    expect(reports[0]?.event).toMatchObject({ switchMethod: 'systemd-run' });
    expect(result.outcome).toMatchObject({ kind: 'failed', exitCode: 4 });
    expect((result.outcome as { stderrTail: string }).stderrTail).toContain('nginx.service failed');
    const [line] = (await readFile(join(dir, 'systemd-run.log'), 'utf8')).split('\n');
    expect(line).toMatch(
      /^--unit=nixfleet-switch-[0-9a-f]{16} --collect --wait --quiet --service-type=exec -p StandardOutput=append:\S+switch\.stdout -p StandardError=append:\S+switch\.stderr -- \S+switch\.sh switch \S+bbbb-nixos-system-web-01-new$/,
    );
    const record = await readActivationRecord(join(dir, 'state'), RID);
    expect(record).toMatchObject({ ok: true, record: { switch: { method: 'systemd-run', pid: null } } });
  });

  it('with detach=always and no systemd, fails the activation instead of running attached', async () => {
    const w = worker({ detach: 'always', systemdRun: { runtimeDir: join(dir, 'absent') } });
    const result = await w.handle(switchTo(NEW));
    expect(result.outcome).toMatchObject({ kind: 'failed', exitCode: ACTIVATION_EXIT.unknown });
    expect(await invocations()).toEqual([]);
  });
});

describe('command templates', () => {
  it('split like a shell without being one', () => {
    expect(splitCommandLine(`a 'b c' "d \\"e\\" $HOME" f\\ g`)).toEqual({
      ok: true,
      argv: ['a', 'b c', 'd "e" $HOME', 'f g'],
    });
    expect(splitCommandLine('  nix-env   --set  {closure} ')).toEqual({
      ok: true,
      argv: ['nix-env', '--set', '{closure}'],
    });
    for (const bad of ['', '   ', "a 'b", 'a "b', 'a \\']) expect(splitCommandLine(bad).ok).toBe(false);
  });

  it('substitute per argument, so a value can never add arguments', () => {
    expect(expandArgv(['run', '{closure}/bin/switch', '{unknown}'], { closure: '/x y; rm -rf /' })).toEqual([
      'run',
      '/x y; rm -rf //bin/switch',
      '{unknown}',
    ]);
  });

  it('an invalid template is refused at creation, naming the flag', () => {
    const created = createActivationWorker({
      stateDir: dir,
      currentSystemPath: link,
      switchCommand: 'ok',
      rollbackCommand: "broken 'quote",
      clock: systemClock,
      emit: () => {},
    });
    expect(created).toMatchObject({
      ok: false,
      error: { code: 'InvalidCommandLine', flag: '--rollback-command' },
    });
  });
});
