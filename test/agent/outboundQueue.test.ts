// The durable outbound queue (agent/outbound): crash recovery, naming (G4), dead letters (G5),
// Replay-From (G13), non-durable coalescing and delivery order — on real files in temp dirs and a
// real node:http server on loopback.
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fc, test as fcTest } from '@fast-check/vitest';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  classifyResponse,
  createEventSender,
  createOutboundQueue,
  deliveryOrder,
  type OutboundQueue,
  type OutboundQueueOptions,
} from '../../agent/outbound/index.ts';
import {
  durableEvent,
  type EventServer,
  envelope,
  keys,
  ManualClock,
  makeTempDir,
  probeResultEvent,
  startEventServer,
} from './support.ts';

const A = 'stable@aaa111';
const B = 'edge@bbb222';

let dir: string;
let cleanup: () => Promise<void>;
let servers: EventServer[] = [];

beforeEach(async () => {
  ({ dir, cleanup } = await makeTempDir('outbound'));
});
afterEach(async () => {
  await Promise.all(servers.map((s) => s.close()));
  servers = [];
  await cleanup();
});

async function open(options: Partial<OutboundQueueOptions> = {}): Promise<OutboundQueue> {
  const r = await createOutboundQueue({ stateDir: dir, clock: new ManualClock(), ...options });
  if (!r.ok) throw new Error(r.error.message);
  return r.queue;
}

async function server(reply?: Parameters<typeof startEventServer>[0]): Promise<EventServer> {
  const s = await startEventServer(reply);
  servers.push(s);
  return s;
}

const files = async (sub = '') =>
  (await readdir(join(dir, 'outbound', sub), { withFileTypes: true }))
    .filter((e) => e.isFile())
    .map((e) => e.name)
    .sort();

describe('durable enqueue', () => {
  it('writes the event to outbound/ before any send, named by a global counter, rollout and seq', async () => {
    const q = await open();
    const r = await q.enqueue(envelope(A, durableEvent(1)), true);
    expect(r).toEqual({ ok: true, counter: 0, durable: true });
    const names = await files();
    expect(names).toEqual([`00000000000000000000-stable@aaa111-1-ActivationStarted.json`]);
    const content = JSON.parse(await readFile(join(dir, 'outbound', names[0] as string), 'utf8'));
    expect(content).toMatchObject({
      version: 1,
      envelope: { hostname: 'web-01', rolloutId: A, event: { seq: 1 } },
    });
  });

  it('refuses an envelope that is not a valid wire event, as a value', async () => {
    const q = await open();
    const bad = { ...envelope(A, durableEvent(1)), rolloutId: 'no-at-sign' };
    const r = await q.enqueue(bad, true);
    expect(r.ok).toBe(false);
    expect(await files()).toEqual([]);
  });

  it('G4: two rollouts at the same seq get two files and are both delivered', async () => {
    const q = await open();
    await q.enqueue(envelope(A, durableEvent(1)), true);
    await q.enqueue(envelope(B, durableEvent(1)), true);
    expect(await files()).toHaveLength(2);
    const cp = await server();
    const report = await q.drainOnce(createEventSender({ controlPlaneUrl: cp.url }));
    expect(report).toEqual({ delivered: 2, deadLettered: 0, blocked: null });
    expect(keys(cp.acked)).toEqual([`${A}#1`, `${B}#1`]);
  });
});

describe('crash recovery at open', () => {
  it('ignores and removes a torn write (leftover temp file) and keeps the committed events in order', async () => {
    const q = await open();
    await q.enqueue(envelope(A, durableEvent(1)), true);
    await q.enqueue(envelope(A, durableEvent(2)), true);
    // A kill -9 between write and rename leaves writeFileAtomic's temp file with a torn document.
    await writeFile(
      join(dir, 'outbound', '.tmp-4242-0-00000000000000000002-stable@aaa111-3-Converged.json'),
      '{"vers',
    );

    const opened = await createOutboundQueue({ stateDir: dir, clock: new ManualClock() });
    if (!opened.ok) throw new Error(opened.error.message);
    expect(opened.recovered).toEqual({ pending: 2, tempFilesRemoved: 1, unreadable: 0 });
    expect(await files()).toHaveLength(2);
    const cp = await server();
    await opened.queue.drainOnce(createEventSender({ controlPlaneUrl: cp.url }));
    expect(keys(cp.acked)).toEqual([`${A}#1`, `${A}#2`]);
  });

  it('moves a committed but unreadable file to dead/ instead of skipping it forever', async () => {
    await open();
    await writeFile(join(dir, 'outbound', '00000000000000000007-x-1-Converged.json'), 'not json');
    const opened = await createOutboundQueue({ stateDir: dir, clock: new ManualClock() });
    if (!opened.ok) throw new Error(opened.error.message);
    expect(opened.recovered.unreadable).toBe(1);
    expect(await files('dead')).toEqual(['00000000000000000007-x-1-Converged.json']);
    // The counter continues above every name seen, dead ones included.
    const r = await opened.queue.enqueue(envelope(A, durableEvent(1)), true);
    expect(r).toMatchObject({ ok: true, counter: 8 });
  });

  it('recovers the counter from pending and archived files, so a restart never reuses a name', async () => {
    const q = await open();
    for (const seq of [1, 2, 3]) await q.enqueue(envelope(A, durableEvent(seq)), true);
    const cp = await server();
    await q.drainOnce(createEventSender({ controlPlaneUrl: cp.url }));
    expect(await files()).toEqual([]);
    const again = await open();
    expect(await again.enqueue(envelope(A, durableEvent(4)), true)).toMatchObject({ counter: 3 });
  });

  it('reports an unusable state dir as a value', async () => {
    await writeFile(join(dir, 'outbound'), 'a file where the directory should be');
    const r = await createOutboundQueue({ stateDir: dir, clock: new ManualClock() });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.code).toBe('OutboundQueueUnavailable');
  });
});

describe('delivery', () => {
  it('G5: a 409 dead-letters the event (with its reason) and the queue moves on in the same pass', async () => {
    const q = await open();
    for (const seq of [1, 2, 3]) await q.enqueue(envelope(A, durableEvent(seq)), true);
    const cp = await server((e) =>
      e.event.seq === 2
        ? { status: 409, body: '{"error":"illegal_transition","detail":"x"}' }
        : { status: 204 },
    );
    const report = await q.drainOnce(createEventSender({ controlPlaneUrl: cp.url }));
    expect(report).toEqual({ delivered: 2, deadLettered: 1, blocked: null });
    expect(keys(cp.acked)).toEqual([`${A}#1`, `${A}#3`]);
    const dead = await files('dead');
    expect(dead).toEqual([
      '00000000000000000001-stable@aaa111-2-ActivationStarted.json',
      '00000000000000000001-stable@aaa111-2-ActivationStarted.reason.json',
    ]);
    const reason = JSON.parse(await readFile(join(dir, 'outbound', 'dead', dead[1] as string), 'utf8'));
    expect(reason).toMatchObject({ status: 409, detail: '{"error":"illegal_transition","detail":"x"}' });
    expect(await files()).toEqual([]);
  });

  it('stops the pass at a 500 (head of line keeps the order) and leaves the event pending', async () => {
    const q = await open();
    for (const seq of [1, 2, 3]) await q.enqueue(envelope(A, durableEvent(seq)), true);
    const cp = await server((e) => (e.event.seq === 2 ? { status: 500 } : { status: 204 }));
    const report = await q.drainOnce(createEventSender({ controlPlaneUrl: cp.url }));
    expect(report.delivered).toBe(1);
    expect(report.blocked).toMatchObject({ status: 500 });
    expect(keys(cp.received)).toEqual([`${A}#1`, `${A}#2`]);
    expect(q.pending().map((p) => p.seq)).toEqual([2, 3]);
  });

  it('treats a refused connection as retryable', async () => {
    const q = await open();
    await q.enqueue(envelope(A, durableEvent(1)), true);
    const cp = await server();
    await cp.close();
    servers = [];
    const report = await q.drainOnce(createEventSender({ controlPlaneUrl: cp.url, timeoutMs: 2_000 }));
    expect(report.blocked).toMatchObject({ status: null });
    expect(q.pending()).toHaveLength(1);
  });

  it('classifies answers: 2xx delivered; 400/409/410/413/422 permanent; the rest retried', () => {
    const ok = (status: number, headers: Record<string, string> = {}) => ({
      ok: true as const,
      status,
      headers,
    });
    expect(classifyResponse(ok(204), 0).kind).toBe('delivered');
    expect(classifyResponse(ok(200), 0).kind).toBe('delivered');
    for (const s of [400, 409, 410, 413, 422]) expect(classifyResponse(ok(s), 0).kind).toBe('dead-letter');
    for (const s of [401, 403, 404, 408, 425, 429, 500, 502, 503])
      expect(classifyResponse(ok(s), 0).kind).toBe('retry');
    expect(classifyResponse(ok(503, { 'retry-after': '30' }), 0)).toMatchObject({ retryAfterMs: 30_000 });
    expect(
      classifyResponse(ok(503, { 'retry-after': new Date(90_000).toUTCString() }), 60_000),
    ).toMatchObject({
      retryAfterMs: 30_000,
    });
    expect(
      classifyResponse({ ok: false, error: { code: 'Transport', message: 'ECONNREFUSED' } }, 0).kind,
    ).toBe('retry');
  });

  it('archives acked events in sent/, bounded to the newest sentLimit', async () => {
    const q = await open({ sentLimit: 3 });
    for (const seq of [1, 2, 3, 4, 5]) await q.enqueue(envelope(A, durableEvent(seq)), true);
    const cp = await server();
    await q.drainOnce(createEventSender({ controlPlaneUrl: cp.url }));
    expect(q.archived().map((a) => a.seq)).toEqual([3, 4, 5]);
    expect(await files('sent')).toHaveLength(3);
  });
});

describe('non-durable events', () => {
  it('stay in memory, coalesce ProbeResult per (rollout, probe) and interleave with durable ones by seq', async () => {
    const q = await open();
    await q.enqueue(envelope(A, durableEvent(4)), true);
    await q.enqueue(envelope(A, probeResultEvent(5, 'http')), false);
    await q.enqueue(envelope(A, probeResultEvent(6, 'disk')), false);
    await q.enqueue(envelope(B, probeResultEvent(1, 'http')), false);
    await q.enqueue(envelope(A, probeResultEvent(7, 'http', 'fail')), false);
    await q.enqueue(envelope(A, durableEvent(8)), true);
    expect(await files()).toHaveLength(2);
    expect(q.pending().map((p) => `${p.rolloutId}#${p.seq}`)).toEqual([
      `${A}#4`,
      `${A}#6`,
      `${B}#1`,
      `${A}#7`,
      `${A}#8`,
    ]);
    const cp = await server();
    await q.drainOnce(createEventSender({ controlPlaneUrl: cp.url }));
    expect(keys(cp.acked)).toEqual([`${A}#4`, `${A}#6`, `${B}#1`, `${A}#7`, `${A}#8`]);
    // Only durable events are archived for replay.
    expect(q.archived().map((a) => a.seq)).toEqual([4, 8]);
  });

  it('drops the oldest non-durable events beyond memoryLimit', async () => {
    const q = await open({ memoryLimit: 2 });
    await q.enqueue(envelope(A, probeResultEvent(1, 'a')), false);
    await q.enqueue(envelope(A, probeResultEvent(2, 'b')), false);
    await q.enqueue(envelope(A, probeResultEvent(3, 'c')), false);
    expect(q.pending().map((p) => p.seq)).toEqual([2, 3]);
  });
});

describe('Replay-From (G13)', () => {
  it('re-sends exactly the archived events above the replay point, each once, before newer pending ones', async () => {
    const q = await open();
    for (const seq of [1, 2, 3, 4, 5]) await q.enqueue(envelope(A, durableEvent(seq)), true);
    for (const seq of [1, 2, 3]) await q.enqueue(envelope(B, durableEvent(seq)), true);
    const cp = await server();
    const send = createEventSender({ controlPlaneUrl: cp.url });
    await q.drainOnce(send);
    expect(cp.acked).toHaveLength(8);

    // A newer event of A is pending when the CP reports it applied A only up to seq 2.
    await q.enqueue(envelope(A, durableEvent(6)), true);
    const replay = await q.replayFrom(A, 2);
    expect(replay).toMatchObject({ requeued: [3, 4, 5], alreadyPending: [6] });
    // Asking again before the drain re-queues nothing: each event goes out once.
    expect(await q.replayFrom(A, 2)).toMatchObject({ requeued: [], alreadyPending: [3, 4, 5, 6] });
    expect(q.pending().map((p) => p.seq)).toEqual([3, 4, 5, 6]);

    await q.drainOnce(send);
    expect(keys(cp.acked.slice(8))).toEqual([`${A}#3`, `${A}#4`, `${A}#5`, `${A}#6`]);
    // Re-archived after the second ack, so a later replay point can still be served.
    const archivedA = q.archived().filter((a) => a.rolloutId === A);
    expect(archivedA.map((a) => a.seq).sort((x, y) => x - y)).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('survives a restart between the replay and the drain (the move back is one rename)', async () => {
    const q = await open();
    for (const seq of [1, 2, 3]) await q.enqueue(envelope(A, durableEvent(seq)), true);
    const cp = await server();
    await q.drainOnce(createEventSender({ controlPlaneUrl: cp.url }));
    await q.replayFrom(A, 1);
    const restarted = await open();
    expect(restarted.pending().map((p) => p.seq)).toEqual([2, 3]);
    expect(restarted.archived().map((a) => a.seq)).toEqual([1]);
  });
});

describe('delivery order', () => {
  const itemArb = fc.array(
    fc.record({ rolloutId: fc.constantFrom('a@1', 'b@1', 'c@1'), seq: fc.integer({ min: 1, max: 30 }) }),
    { maxLength: 40 },
  );

  fcTest.prop([itemArb])('is a permutation that sends each rollout by ascending seq', (raw) => {
    const items = raw.map((r, counter) => ({ ...r, counter }));
    const out = deliveryOrder(items);
    expect([...out].sort((x, y) => x.counter - y.counter)).toEqual(items);
    for (const r of ['a@1', 'b@1', 'c@1']) {
      const seqs = out.filter((i) => i.rolloutId === r).map((i) => i.seq);
      expect(seqs).toEqual([...seqs].sort((x, y) => x - y));
    }
    // Rollouts keep the positions they had in enqueue order.
    expect(out.map((i) => i.rolloutId)).toEqual(items.map((i) => i.rolloutId));
  });
});
