// The probe worker (agent/probes) with real probe scripts that pass or fail by a file flag:
// topology, first-observed and failure-first edges, intervals on an injected clock, timeouts that
// kill the process group, disabled probes, resets, and the probes file schema.
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  createProbeWorker,
  PROBES_FILE_PROBE,
  type ProbeReport,
  type ProbeWorker,
  parseProbesFile,
} from '../../agent/probes/index.ts';
import { createHostRollout, hostStateOf, stepHostRollout, withNextSeq } from '../../machines/index.ts';
import { ManualClock, makeTempDir, T0, waitUntil, writeScript } from './support.ts';

const RID = 'stable@c0ffee';

let dir: string;
let cleanup: () => Promise<void>;
let clock: ManualClock;
let reports: ProbeReport[];
let worker: ProbeWorker | undefined;

beforeEach(async () => {
  ({ dir, cleanup } = await makeTempDir('probes'));
  clock = new ManualClock();
  reports = [];
  // `probe.sh <name>`: logs the run; `fail.<name>` makes it fail (its content on stderr);
  // `hang.<name>` makes it record its pid and block in a child process until killed.
  await writeScript(
    join(dir, 'probe.sh'),
    `D='${dir}'
echo "$1" >> "$D/runs.log"
if [ -e "$D/hang.$1" ]; then echo $$ > "$D/pid.$1"; sleep 30; exit 0; fi
if [ -e "$D/fail.$1" ]; then echo "checking $1"; cat "$D/fail.$1" >&2; exit 3; fi
echo "$1 ok"`,
  );
});
afterEach(async () => {
  worker?.stop();
  worker = undefined;
  await cleanup();
});

async function probesFile(probes: unknown): Promise<string> {
  const path = join(dir, 'health-checks.json');
  await writeFile(path, typeof probes === 'string' ? probes : JSON.stringify(probes));
  return path;
}

const probe = (name: string, extra: Record<string, unknown> = {}) => ({
  name,
  command: [join(dir, 'probe.sh'), name],
  interval: '10s',
  timeout: '5s',
  mode: 'enforce',
  ...extra,
});

function start(path: string): ProbeWorker {
  worker = createProbeWorker({
    probesFile: path,
    clock,
    emit: (r) => {
      reports.push(r);
    },
  });
  return worker;
}

/** `Type:probe:status` lines of what was reported so far (compact, order-preserving). */
const trace = () =>
  reports.map(({ event: e }) => {
    switch (e.type) {
      case 'LocalProbeTopologyDeclared':
        return `Topology:${e.probes.map((p) => `${p.probeName}/${p.mode}`).join(',')}`;
      case 'LocalProbeResult':
        return `Result:${e.probeName}:${e.status}`;
      case 'LocalProbeObservedFirst':
        return `ObservedFirst:${e.probeName}`;
      case 'LocalProbeFailureFirst':
        return `FailureFirst:${e.probeName}`;
      default:
        return 'unexpected';
    }
  });

const runs = async (name?: string) =>
  (await readFile(join(dir, 'runs.log'), 'utf8').catch(() => ''))
    .split('\n')
    .filter((l) => l !== '' && (name === undefined || l === name));

/** The failure reason of the report at `index`, which must be a failed ProbeResult. */
function failureReasonAt(index: number): string {
  const e = reports[index]?.event;
  if (e?.type !== 'LocalProbeResult' || e.failureReason === null)
    throw new Error(`report ${index} is not a failure`);
  return e.failureReason;
}

const results = () => reports.filter((r) => r.event.type === 'LocalProbeResult').length;

describe('reset', () => {
  it('declares every probe (disabled included), runs the others at once, and never runs a disabled one', async () => {
    const w = start(
      await probesFile([
        probe('http'),
        probe('disk', { mode: 'observe' }),
        probe('legacy', { mode: 'disabled' }),
      ]),
    );
    expect(await w.reset(RID)).toEqual({ rolloutId: RID, outcome: 'declared', running: ['http', 'disk'] });
    await waitUntil(() => results() === 2, 'first results');
    expect(trace()[0]).toBe('Topology:http/enforce,disk/observe,legacy/disabled');
    expect(reports.every((r) => r.rolloutId === RID && r.event.seq === 0)).toBe(true);
    expect(trace().slice(1).sort()).toEqual([
      'ObservedFirst:disk',
      'ObservedFirst:http',
      'Result:disk:pass',
      'Result:http:pass',
    ]);

    for (let i = 0; i < 3; i++) {
      clock.advance(10_000);
      await waitUntil(() => results() === 4 + 2 * i, `results of round ${i + 2}`);
    }
    expect(await runs('legacy')).toEqual([]);
    expect(await runs('http')).toHaveLength(4);
    // ObservedFirst is once per probe per reset.
    expect(trace().filter((t) => t.startsWith('ObservedFirst'))).toHaveLength(2);
  });

  it('runs each probe again only `interval` after its previous run ended', async () => {
    const w = start(await probesFile([probe('http', { interval: '30s' })]));
    await w.reset(RID);
    await waitUntil(() => results() === 1, 'first result');
    clock.advance(29_999);
    expect(await runs('http')).toHaveLength(1);
    clock.advance(1);
    await waitUntil(() => results() === 2, 'second result');
  });

  it('emits no topology and runs nothing when the probes file does not exist', async () => {
    const w = start(join(dir, 'absent.json'));
    expect(await w.reset(RID)).toEqual({ rolloutId: RID, outcome: 'none', running: [] });
    clock.advance(60_000);
    expect(reports).toEqual([]);
  });

  it('turns an invalid probes file into a failing enforce probe instead of silently declaring none', async () => {
    const w = start(await probesFile([{ name: 'http', command: 'x', intreval: '10s' }]));
    expect(await w.reset(RID)).toMatchObject({ outcome: 'invalid', running: [PROBES_FILE_PROBE] });
    await waitUntil(() => results() === 1, 'the probes-file result');
    expect(trace()).toEqual([
      `Topology:${PROBES_FILE_PROBE}/enforce`,
      `ObservedFirst:${PROBES_FILE_PROBE}`,
      `Result:${PROBES_FILE_PROBE}:fail`,
      `FailureFirst:${PROBES_FILE_PROBE}`,
    ]);
    expect(failureReasonAt(2)).toContain('intreval');
  });

  it('a second reset kills the running probes, drops their results and starts over (ObservedFirst again)', async () => {
    await writeFile(join(dir, 'hang.http'), '');
    const w = start(await probesFile([probe('http', { timeout: '60s' }), probe('disk')]));
    await w.reset('stable@first');
    await waitUntil(() => results() === 1, 'disk result');
    await waitUntil(
      async () => (await readFile(join(dir, 'pid.http'), 'utf8').catch(() => '')) !== '',
      'hung http',
    );
    const pid = Number(await readFile(join(dir, 'pid.http'), 'utf8'));

    await rm(join(dir, 'hang.http'));
    reports = [];
    await w.reset('stable@second');
    // The hung run was killed with its process group and reported nothing.
    await waitUntil(() => !alive(pid), 'the hung probe to be killed');
    await waitUntil(() => results() === 2, 'results after the second reset');
    expect(reports.every((r) => r.rolloutId === 'stable@second')).toBe(true);
    expect(
      trace()
        .filter((t) => t.startsWith('ObservedFirst'))
        .sort(),
    ).toEqual(['ObservedFirst:disk', 'ObservedFirst:http']);
    expect(w.activeRollout()).toBe('stable@second');
  });
});

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('edges', () => {
  it('pass → fail → fail → pass → fail: FailureFirst on each pass→fail edge, Result every run', async () => {
    const w = start(await probesFile([probe('http')]));
    await w.reset(RID);
    const sequence = ['pass', 'fail', 'fail', 'pass', 'fail'] as const;
    for (const [i, status] of sequence.entries()) {
      if (status === 'fail') await writeFile(join(dir, 'fail.http'), 'connection refused');
      else await rm(join(dir, 'fail.http'), { force: true });
      if (i > 0) clock.advance(10_000);
      await waitUntil(() => results() === i + 1, `result ${i + 1}`);
    }
    expect(trace()).toEqual([
      'Topology:http/enforce',
      'ObservedFirst:http',
      'Result:http:pass',
      'Result:http:fail',
      'FailureFirst:http',
      'Result:http:fail',
      'Result:http:pass',
      'Result:http:fail',
      'FailureFirst:http',
    ]);
  });

  it('a first result that fails is also the first failure; the reason is the stderr tail', async () => {
    await writeFile(join(dir, 'fail.http'), 'nginx: connection refused');
    const w = start(await probesFile([probe('http')]));
    await w.reset(RID);
    await waitUntil(() => reports.length === 4, 'first result');
    expect(trace()).toEqual([
      'Topology:http/enforce',
      'ObservedFirst:http',
      'Result:http:fail',
      'FailureFirst:http',
    ]);
    const result = reports[2]?.event;
    expect(result).toMatchObject({ failureReason: 'exit 3: nginx: connection refused', observedAt: T0 });
    expect(reports[3]?.event).toMatchObject({ firstFailedAt: T0 });
  });

  it('caps failureReason at 512 bytes, keeping the tail on a character boundary', async () => {
    await writeFile(join(dir, 'fail.http'), `${'é'.repeat(600)}THE END`);
    const w = start(await probesFile([probe('http')]));
    await w.reset(RID);
    await waitUntil(() => results() === 1, 'first result');
    const reason = failureReasonAt(2);
    expect(Buffer.byteLength(reason)).toBeLessThanOrEqual(512);
    expect(reason.startsWith('exit 3: [truncated]...é')).toBe(true);
    expect(reason.endsWith('éTHE END')).toBe(true);
  });
});

describe('timeouts', () => {
  it('kills a probe (and what it started) when its timeout fires on the clock, and fails it', async () => {
    await writeFile(join(dir, 'hang.http'), '');
    const w = start(await probesFile([probe('http', { timeout: '2s' })]));
    await w.reset(RID);
    await waitUntil(
      async () => (await readFile(join(dir, 'pid.http'), 'utf8').catch(() => '')) !== '',
      'the probe to start',
    );
    const pid = Number(await readFile(join(dir, 'pid.http'), 'utf8'));
    clock.advance(1_999);
    expect(results()).toBe(0);
    clock.advance(1);
    await waitUntil(() => results() === 1, 'the timed-out result');
    expect(reports[2]?.event).toMatchObject({ status: 'fail', failureReason: 'timed out after 2s (killed)' });
    expect(alive(pid)).toBe(false);
  });

  it('reports a command that cannot start as a failure', async () => {
    const w = start(await probesFile([{ name: 'ghost', command: join(dir, 'no-such-probe') }]));
    await w.reset(RID);
    await waitUntil(() => results() === 1, 'the failed result');
    expect(failureReasonAt(2)).toMatch(/^could not run: .*ENOENT/);
  });
});

describe('driving the chart', () => {
  it('a reset after activation, then results, fill the Soaking record (G10 streaks per probe)', async () => {
    const w = start(await probesFile([probe('http')]));
    let s = createHostRollout({
      rolloutId: RID,
      hostname: 'web-01',
      channel: 'stable',
      targetClosure: 'new',
      dispatchedAt: T0,
    });
    for (const event of [
      {
        type: 'LocalActivate',
        seq: 1,
        currentClosureAtDispatch: 'old',
        receivedAt: T0,
        targetClosure: 'new',
        soakDueAt: null,
      },
      {
        type: 'LocalActivationCompleted',
        seq: 2,
        observedCurrentClosure: 'new',
        exitCode: 0,
        completedAt: T0,
      },
    ] as const) {
      const r = stepHostRollout(s, event);
      if (!r.ok) throw new Error(JSON.stringify(r.error));
      s = r.snapshot;
    }
    await writeFile(join(dir, 'fail.http'), 'down');
    await w.reset(RID);
    await waitUntil(() => results() === 1, 'first result');
    clock.advance(10_000);
    await waitUntil(() => results() === 2, 'second result');
    for (const { event } of reports) {
      const r = stepHostRollout(s, withNextSeq(s.context, event));
      if (!r.ok) throw new Error(JSON.stringify(r.error));
      s = r.snapshot;
    }
    expect(hostStateOf(s)).toBe('Soaking');
    expect(s.context.declaredProbes).toEqual([{ probeName: 'http', kind: 'exec', mode: 'enforce' }]);
    expect(s.context.probes.http).toMatchObject({ status: 'fail', failingSince: T0 });
    expect(s.context.probeFailureFirstAt).toBe(T0);
  });
});

describe('probes file schema', () => {
  it('applies defaults, splits string commands without a shell and floors the interval at 5 s', () => {
    const r = parseProbesFile(
      'f',
      JSON.stringify([
        { name: 'a', command: "check --url 'http://x/a b'" },
        { name: 'b', command: ['x'], interval: '1s', timeout: '500ms', mode: 'observe' },
      ]),
    );
    expect(r).toEqual({
      ok: true,
      probes: [
        {
          name: 'a',
          argv: ['check', '--url', 'http://x/a b'],
          intervalMs: 30_000,
          timeoutMs: 10_000,
          mode: 'enforce',
        },
        { name: 'b', argv: ['x'], intervalMs: 5_000, timeoutMs: 500, mode: 'observe' },
      ],
    });
  });

  it.each([
    ['not JSON', '{', 'not JSON'],
    ['a map instead of a list', '{"a":{}}', 'expected array'],
    [
      'a duplicate name',
      '[{"name":"a","command":"x"},{"name":"a","command":"y"}]',
      'duplicate probe name "a"',
    ],
    ['a unit-less duration', '[{"name":"a","command":"x","interval":"10"}]', 'is not a duration'],
    ['an unknown mode', '[{"name":"a","command":"x","mode":"strict"}]', '[0.mode]'],
    ['an unknown field', '[{"name":"a","command":"x","intreval":"5s"}]', 'intreval'],
    ['an unterminated quote', `[{"name":"a","command":"x 'y"}]`, 'unterminated'],
    ['an empty command', '[{"name":"a","command":[]}]', '[0.command]'],
  ])('refuses %s, naming the problem', (_what, text, needle) => {
    const r = parseProbesFile('/etc/nixfleet/agent/health-checks.json', text);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.error.code).toBe('ProbesFileInvalid');
      expect(r.error.message).toContain(needle);
      expect(r.error.message).toContain('/etc/nixfleet/agent/health-checks.json');
    }
  });
});
