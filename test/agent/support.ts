// Helpers for the agent building-block tests: temp dirs, condition waits with deadlines, a real
// node:http CP stand-in on loopback, small shell scripts and event builders.
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AgentEvent, AgentEventEnvelope } from '../../proto/index.ts';

export { ManualClock, T0 } from '../actors/support.ts';

export async function makeTempDir(prefix: string): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), `nixfleet-${prefix}-`));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** Polls `check` until it holds; fails with `what` once `timeoutMs` of real time have passed. */
export async function waitUntil(
  check: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Settles `promise`, moving `clock` forward by `stepMs` between real macrotask turns. */
export async function settleWhileAdvancing<T>(
  promise: Promise<T>,
  clock: { advance(ms: number): void },
  stepMs: number,
  timeoutMs = 10_000,
): Promise<T> {
  let done = false;
  const tracked = promise.finally(() => {
    done = true;
  });
  const deadline = Date.now() + timeoutMs;
  while (!done) {
    if (Date.now() > deadline)
      throw new Error(`did not settle within ${timeoutMs} ms of advancing the clock`);
    clock.advance(stepMs);
    await new Promise((r) => setImmediate(r));
  }
  return tracked;
}

/** Writes an executable `#!/bin/sh` script. */
export async function writeScript(path: string, body: string): Promise<string> {
  await writeFile(path, `#!/bin/sh\n${body}\n`);
  await chmod(path, 0o755);
  return path;
}

export interface Reply {
  status: number;
  headers?: Record<string, string>;
  body?: string;
}

export interface EventServer {
  url: string;
  /** Every envelope the server read, in arrival order (held ones included). */
  received: AgentEventEnvelope[];
  /** Envelopes answered 2xx, in order. */
  acked: AgentEventEnvelope[];
  close(): Promise<void>;
}

/**
 * A stand-in for `POST /v1/agent/events`. `reply` decides each answer; `'hold'` never answers
 * (the connection stays open until the server closes), to freeze a sender mid-request.
 */
export async function startEventServer(
  reply: (envelope: AgentEventEnvelope, index: number) => Reply | 'hold' = () => ({ status: 204 }),
): Promise<EventServer> {
  const received: AgentEventEnvelope[] = [];
  const acked: AgentEventEnvelope[] = [];
  const held: ServerResponse[] = [];
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const envelope = JSON.parse(Buffer.concat(chunks).toString('utf8')) as AgentEventEnvelope;
      const index = received.length;
      received.push(envelope);
      const r = req.url === '/v1/agent/events' ? reply(envelope, index) : { status: 404 };
      if (r === 'hold') {
        held.push(res);
        return;
      }
      if (r.status >= 200 && r.status < 300) acked.push(envelope);
      res.writeHead(r.status, { 'content-type': 'application/json', ...r.headers });
      res.end(r.body ?? (r.status === 204 ? undefined : '{}'));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    acked,
    close: () =>
      new Promise<void>((resolve) => {
        for (const res of held) res.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

const at = (seq: number) => new Date(Date.UTC(2026, 4, 16, 1, 0, seq)).toISOString();

/** A durable wire event of the given seq. */
export function durableEvent(seq: number): AgentEvent {
  return { kind: 'ActivationStarted', startedAt: at(seq), switchMethod: 'test', seq };
}

export function probeResultEvent(
  seq: number,
  probeName: string,
  status: 'pass' | 'fail' = 'pass',
): AgentEvent {
  return {
    kind: 'ProbeResult',
    probeName,
    mode: 'enforce',
    status,
    observedAt: at(seq),
    failureReason: status === 'fail' ? 'boom' : null,
    subResults: null,
    seq,
  };
}

export function envelope(rolloutId: string, event: AgentEvent, hostname = 'web-01'): AgentEventEnvelope {
  return { hostname, rolloutId, event };
}

/** `rolloutId#seq` of each envelope: compact assertions on what the CP saw. */
export const keys = (envelopes: readonly AgentEventEnvelope[]): string[] =>
  envelopes.map((e) => `${e.rolloutId}#${e.event.seq}`);
