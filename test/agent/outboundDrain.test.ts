// The outbound drainer worker: jittered exponential backoff on an injected clock, Retry-After,
// kicks, and kill -9 of a draining agent process with no event lost and none out of order.
import { type ChildProcess, spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  backoffDelayMs,
  createEventSender,
  createOutboundDrainer,
  createOutboundQueue,
  type DrainReport,
  type OutboundQueue,
} from '../../agent/outbound/index.ts';
import {
  durableEvent,
  type EventServer,
  envelope,
  keys,
  ManualClock,
  makeTempDir,
  startEventServer,
  waitUntil,
} from './support.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const WORKER = join(ROOT, 'test', 'agent', 'fixtures', 'drainWorker.ts');
const A = 'stable@aaa111';
const B = 'edge@bbb222';

let dir: string;
let cleanup: () => Promise<void>;
const servers: EventServer[] = [];
const children: ChildProcess[] = [];

beforeEach(async () => {
  ({ dir, cleanup } = await makeTempDir('drain'));
});
afterEach(async () => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await Promise.all(servers.splice(0).map((s) => s.close()));
  await cleanup();
});

async function open(clock: ManualClock): Promise<OutboundQueue> {
  const r = await createOutboundQueue({ stateDir: dir, clock });
  if (!r.ok) throw new Error(r.error.message);
  return r.queue;
}

async function server(reply?: Parameters<typeof startEventServer>[0]): Promise<EventServer> {
  const s = await startEventServer(reply);
  servers.push(s);
  return s;
}

describe('backoff', () => {
  it('doubles per consecutive failure with equal jitter, capped', () => {
    const half = () => 0.5;
    expect([1, 2, 3, 4].map((n) => backoffDelayMs(n, half, { initialMs: 1_000 }))).toEqual([
      750, 1_500, 3_000, 6_000,
    ]);
    expect(backoffDelayMs(1, () => 0, { initialMs: 1_000 })).toBe(500);
    expect(backoffDelayMs(1, () => 0.999_999, { initialMs: 1_000 })).toBe(1_000);
    expect(backoffDelayMs(30, half, { initialMs: 1_000, maxMs: 8_000 })).toBe(6_000);
  });

  it('retries a 500 after the jittered delay (not before), then delivers and returns to the interval', async () => {
    const clock = new ManualClock();
    const q = await open(clock);
    await q.enqueue(envelope(A, durableEvent(1)), true);
    await q.enqueue(envelope(A, durableEvent(2)), true);
    let failuresLeft = 2;
    const cp = await server(() => (failuresLeft-- > 0 ? { status: 500 } : { status: 204 }));
    const passes: DrainReport[] = [];
    const drainer = createOutboundDrainer({
      queue: q,
      send: createEventSender({ controlPlaneUrl: cp.url }),
      clock,
      random: () => 0.5,
      backoff: { initialMs: 1_000 },
      intervalMs: 15_000,
      onPass: (r) => passes.push(r),
    });
    const t0 = clock.now().getTime();
    drainer.start();
    await waitUntil(() => passes.length === 1, 'first pass');
    expect(passes[0]?.blocked).toMatchObject({ status: 500 });
    expect(drainer.state()).toMatchObject({ failures: 1, nextPassAt: t0 + 750 });

    // A kick during the backoff does not turn it into a hot loop.
    drainer.kick();
    expect(drainer.state().running).toBe(false);
    clock.advance(749);
    expect(drainer.state().running).toBe(false);
    expect(cp.received).toHaveLength(1);

    clock.advance(1);
    await waitUntil(() => passes.length === 2, 'second pass');
    expect(drainer.state()).toMatchObject({ failures: 2, nextPassAt: t0 + 750 + 1_500 });

    clock.advance(1_500);
    await waitUntil(() => passes.length === 3, 'third pass');
    expect(passes[2]).toEqual({ delivered: 2, deadLettered: 0, blocked: null });
    expect(drainer.state()).toMatchObject({ failures: 0, nextPassAt: t0 + 2_250 + 15_000 });
    expect(keys(cp.acked)).toEqual([`${A}#1`, `${A}#2`]);
    await drainer.stop();
  });

  it('waits at least Retry-After on a 503', async () => {
    const clock = new ManualClock();
    const q = await open(clock);
    await q.enqueue(envelope(A, durableEvent(1)), true);
    let first = true;
    const cp = await server(() => {
      if (!first) return { status: 204 };
      first = false;
      return { status: 503, headers: { 'retry-after': '30' } };
    });
    const passes: DrainReport[] = [];
    const drainer = createOutboundDrainer({
      queue: q,
      send: createEventSender({ controlPlaneUrl: cp.url }),
      clock,
      random: () => 0.5,
      backoff: { initialMs: 1_000 },
      onPass: (r) => passes.push(r),
    });
    const t0 = clock.now().getTime();
    drainer.start();
    await waitUntil(() => passes.length === 1, 'first pass');
    expect(drainer.state().nextPassAt).toBe(t0 + 30_000);
    clock.advance(30_000);
    await waitUntil(() => passes.length === 2, 'retry');
    expect(keys(cp.acked)).toEqual([`${A}#1`]);
    await drainer.stop();
  });

  it('a kick runs a pass at once for events enqueued after start, and again after a running pass', async () => {
    const clock = new ManualClock();
    const q = await open(clock);
    const cp = await server();
    const passes: DrainReport[] = [];
    const drainer = createOutboundDrainer({
      queue: q,
      send: createEventSender({ controlPlaneUrl: cp.url }),
      clock,
      onPass: (r) => passes.push(r),
    });
    drainer.start();
    await q.enqueue(envelope(A, durableEvent(1)), true);
    drainer.kick();
    await waitUntil(() => cp.acked.length === 1, 'kicked delivery');
    await q.enqueue(envelope(B, durableEvent(1)), true);
    drainer.kick();
    await waitUntil(() => cp.acked.length === 2, 'second kicked delivery');
    expect(keys(cp.acked)).toEqual([`${A}#1`, `${B}#1`]);
    await drainer.stop();
  });
});

describe('kill -9 mid-drain', () => {
  it('loses no event and keeps each rollout in order across the restart', async () => {
    const clock = new ManualClock();
    const q = await open(clock);
    const expected: string[] = [];
    for (let seq = 1; seq <= 6; seq++) {
      for (const r of [A, B]) {
        await q.enqueue(envelope(r, durableEvent(seq)), true);
        expected.push(`${r}#${seq}`);
      }
    }
    // The 5th request is never answered: the agent is killed while waiting for it.
    const cp = await server((_e, index) => (index === 4 ? 'hold' : { status: 204 }));
    const child = spawn(process.execPath, ['--import', 'tsx', WORKER, dir, cp.url], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(child);
    let stderr = '';
    child.stderr?.on('data', (c: Buffer) => {
      stderr += c.toString();
    });
    let ready: { pending: number } | undefined;
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (l) => {
      ready = JSON.parse(l) as { pending: number };
    });
    await waitUntil(
      () => {
        if (child.exitCode !== null) throw new Error(`drain worker exited early:\n${stderr}`);
        return cp.received.length === 5;
      },
      'the held request',
      30_000,
    );
    expect(ready?.pending).toBe(12);
    child.kill('SIGKILL');
    await new Promise((r) => child.once('close', r));
    expect(cp.acked).toHaveLength(4);

    // The restarted agent finds the unacked event first in line and delivers the rest.
    const restarted = await open(clock);
    expect(restarted.pending().map((p) => `${p.rolloutId}#${p.seq}`)).toEqual(expected.slice(4));
    const cp2 = await server();
    const report = await restarted.drainOnce(createEventSender({ controlPlaneUrl: cp2.url }));
    expect(report).toEqual({ delivered: 8, deadLettered: 0, blocked: null });

    const seen = [...keys(cp.received), ...keys(cp2.acked)];
    // At least once: every event arrived; the one in flight at the kill arrived twice.
    expect(new Set(seen)).toEqual(new Set(expected));
    expect(seen.filter((k) => k === expected[4])).toHaveLength(2);
    // In order: the first arrival of each event follows the enqueue order.
    expect([...new Set(seen)]).toEqual(expected);
  });
});
