// The agent's durable outbound queue (spec §6.10, §2.4; contract §3 `outbound/`).
//
// - Durable events (DURABLE_KINDS) are written tmp → fsync → rename → fsync dir BEFORE any send and
//   survive kill -9: the state already advanced when the applier enqueues, so an event lost here is
//   lost for good (spec §6.5).
// - Non-durable probe chatter is held in memory only, best effort, one pending ProbeResult per
//   (rollout, probe): a newer result replaces an unsent older one (spec §2.4 [RECOMMEND]).
// - Both kinds share one counter and are delivered in `deliveryOrder` (per-rollout seq order).
// - Acked durable events move to `sent/` (bounded) so a CP that lost them can ask for them again
//   with Replay-From (G13); events the CP refuses for good move to `dead/` (G5).
//
// One process owns the directory (the agent is a singleton per host); every pass over the files —
// a drain or a replay — runs under one in-process lock so the two never move the same file.
import { mkdir, readdir, readFile, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Clock } from '../../actors/index.ts';
import { isTemporaryFile, syncDirectory, writeFileAtomic } from '../../actors/index.ts';
import { type AgentEventEnvelope, agentEventEnvelopeSchema } from '../../proto/index.ts';
import { classifyResponse, type OutboundSend } from './delivery.ts';
import { deliveryOrder } from './deliveryOrder.ts';
import {
  counterOf,
  DEAD_DIR,
  OUTBOUND_DIR,
  parseQueuedEventFile,
  queueFileName,
  reasonFileName,
  renumbered,
  SENT_DIR,
  serializeQueuedEvent,
} from './queueFiles.ts';

/** The logger surface the queue uses (pino's). */
export interface OutboundLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export const silentLogger: OutboundLogger = {
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: () => {},
};

export interface OutboundQueueOptions {
  /** `--state-dir`; the queue lives in `<stateDir>/outbound/`. */
  stateDir: string;
  clock: Clock;
  logger?: OutboundLogger;
  /**
   * Acked durable events kept in `outbound/sent/` for Replay-From. Default 1024 (a rollout emits
   * about ten durable events per host, so this covers the last ~100 rollouts). 0 disables replay.
   */
  sentLimit?: number;
  /** Dead letters kept for the operator in `outbound/dead/`; the oldest are pruned. Default 1024. */
  deadLimit?: number;
  /** Non-durable events held in memory; the oldest are dropped beyond it. Default 1024. */
  memoryLimit?: number;
}

export type OutboundQueueError = { code: 'OutboundQueueUnavailable'; message: string };

export type EnqueueResult =
  | { ok: true; counter: number; durable: boolean }
  | { ok: false; error: OutboundQueueError | { code: 'InvalidEvent'; message: string } };

/** A pending event as the drainer will send it. */
export interface PendingEvent {
  counter: number;
  rolloutId: string;
  seq: number;
  kind: AgentEventEnvelope['event']['kind'];
  durable: boolean;
}

export interface ArchivedEvent {
  counter: number;
  rolloutId: string;
  seq: number;
  kind: AgentEventEnvelope['event']['kind'];
}

export interface DrainReport {
  delivered: number;
  deadLettered: number;
  /** Set when the pass stopped at an event the CP could not take now; it is first next time. */
  blocked: { counter: number; status: number | null; detail: string; retryAfterMs: number | null } | null;
}

export interface ReplayReport {
  rolloutId: string;
  fromSeq: number;
  /** Seqs moved back from `sent/` into the queue, ascending. */
  requeued: number[];
  /** Seqs above `fromSeq` that were still pending anyway (they go out once, not twice). */
  alreadyPending: number[];
}

export type CreateOutboundQueueResult =
  | {
      ok: true;
      queue: OutboundQueue;
      recovered: { pending: number; tempFilesRemoved: number; unreadable: number };
    }
  | { ok: false; error: OutboundQueueError };

interface Item extends PendingEvent {
  envelope: AgentEventEnvelope;
  /** File name in `outbound/` for a durable item. */
  name: string | null;
}

interface Archived extends ArchivedEvent {
  name: string;
}

/** Opens (creating if needed) `<stateDir>/outbound/`, recovering pending and archived events. */
export async function createOutboundQueue(options: OutboundQueueOptions): Promise<CreateOutboundQueueResult> {
  const dir = join(options.stateDir, OUTBOUND_DIR);
  const logger = options.logger ?? silentLogger;
  try {
    await mkdir(join(dir, SENT_DIR), { recursive: true, mode: 0o700 });
    await mkdir(join(dir, DEAD_DIR), { recursive: true, mode: 0o700 });
    let maxCounter = -1;
    let tempFilesRemoved = 0;
    let unreadable = 0;
    const pending: Item[] = [];
    for (const name of (await readdir(dir)).sort()) {
      if (isTemporaryFile(name)) {
        // A write interrupted before its rename (kill -9, power loss): the event was never
        // enqueued as far as anyone knows, and reading it could yield a torn document.
        await unlink(join(dir, name)).catch(() => undefined);
        tempFilesRemoved++;
        continue;
      }
      const counter = counterOf(name);
      if (counter === null) continue;
      maxCounter = Math.max(maxCounter, counter);
      const parsed = parseQueuedEventFile(await readFile(join(dir, name), 'utf8'));
      if (!parsed.ok) {
        // Renamed into place after an fsync, so not a torn write: foreign or corrupted. Keeping it
        // in the queue would be skipped forever; dead/ keeps it visible to the operator instead.
        unreadable++;
        logger.error(
          { file: name, reason: parsed.message },
          'outbound: unreadable queue file moved to dead/',
        );
        await rename(join(dir, name), join(dir, DEAD_DIR, name));
        continue;
      }
      const envelope = parsed.file.envelope;
      pending.push({ ...viewOf(counter, envelope, true), envelope, name });
    }
    const archived: Archived[] = [];
    for (const name of await readdir(join(dir, SENT_DIR))) {
      const counter = counterOf(name);
      if (counter === null) {
        if (isTemporaryFile(name)) await unlink(join(dir, SENT_DIR, name)).catch(() => undefined);
        continue;
      }
      maxCounter = Math.max(maxCounter, counter);
      const parsed = parseQueuedEventFile(await readFile(join(dir, SENT_DIR, name), 'utf8'));
      if (!parsed.ok) {
        await unlink(join(dir, SENT_DIR, name)).catch(() => undefined);
        continue;
      }
      const { rolloutId, event } = parsed.file.envelope;
      archived.push({ counter, rolloutId, seq: event.seq, kind: event.kind, name });
    }
    const dead: string[] = [];
    for (const name of await readdir(join(dir, DEAD_DIR))) {
      const counter = counterOf(name);
      if (counter === null) continue;
      maxCounter = Math.max(maxCounter, counter);
      dead.push(name);
    }
    await syncDirectory(dir);
    const queue = new OutboundQueue(dir, options, logger, maxCounter + 1, pending, archived, dead);
    return { ok: true, queue, recovered: { pending: pending.length, tempFilesRemoved, unreadable } };
  } catch (error) {
    return {
      ok: false,
      error: {
        code: 'OutboundQueueUnavailable',
        message: `cannot open the outbound queue in ${dir}: ${(error as Error).message}; check --state-dir exists and is writable by the agent`,
      },
    };
  }
}

function viewOf(counter: number, envelope: AgentEventEnvelope, durable: boolean): PendingEvent {
  return {
    counter,
    rolloutId: envelope.rolloutId,
    seq: envelope.event.seq,
    kind: envelope.event.kind,
    durable,
  };
}

const coalesceKey = (envelope: AgentEventEnvelope): string | null =>
  envelope.event.kind === 'ProbeResult' ? `${envelope.rolloutId}\u0000${envelope.event.probeName}` : null;

export class OutboundQueue {
  readonly dir: string;
  readonly #clock: Clock;
  readonly #logger: OutboundLogger;
  readonly #sentLimit: number;
  readonly #deadLimit: number;
  readonly #memoryLimit: number;
  #nextCounter: number;
  readonly #items = new Map<number, Item>();
  /** Unsent ProbeResult per (rollout, probe) → its counter. */
  readonly #coalesce = new Map<string, number>();
  readonly #sent = new Map<string, Archived>();
  readonly #dead: string[];
  #serial: Promise<unknown> = Promise.resolve();

  /** Use `createOutboundQueue`, which recovers the directory first. */
  constructor(
    dir: string,
    options: OutboundQueueOptions,
    logger: OutboundLogger,
    nextCounter: number,
    pending: Item[],
    archived: Archived[],
    dead: string[],
  ) {
    this.dir = dir;
    this.#clock = options.clock;
    this.#logger = logger;
    this.#sentLimit = options.sentLimit ?? 1024;
    this.#deadLimit = options.deadLimit ?? 1024;
    this.#memoryLimit = options.memoryLimit ?? 1024;
    this.#nextCounter = nextCounter;
    for (const item of pending) this.#items.set(item.counter, item);
    for (const a of archived.sort((x, y) => x.counter - y.counter)) this.#sent.set(a.name, a);
    this.#dead = dead.sort();
  }

  /**
   * Queues one event. A durable one is on disk (fsync'd, directory included) when this resolves;
   * the applier must await each enqueue before the next so the queue sees events in seq order.
   */
  async enqueue(envelope: AgentEventEnvelope, durable: boolean): Promise<EnqueueResult> {
    const parsed = agentEventEnvelopeSchema.safeParse(envelope);
    if (!parsed.success) {
      return { ok: false, error: { code: 'InvalidEvent', message: parsed.error.message } };
    }
    const env = parsed.data;
    const counter = this.#nextCounter++;
    if (!durable) {
      this.#enqueueMemory(counter, env);
      return { ok: true, counter, durable };
    }
    const name = queueFileName(counter, env);
    const content = serializeQueuedEvent({
      version: 1,
      enqueuedAt: this.#clock.now().toISOString(),
      envelope: env,
    });
    try {
      await writeFileAtomic(join(this.dir, name), content);
    } catch (error) {
      return {
        ok: false,
        error: {
          code: 'OutboundQueueUnavailable',
          message: `cannot write ${name}: ${(error as Error).message}`,
        },
      };
    }
    this.#items.set(counter, { ...viewOf(counter, env, true), envelope: env, name });
    return { ok: true, counter, durable };
  }

  #enqueueMemory(counter: number, envelope: AgentEventEnvelope): void {
    const key = coalesceKey(envelope);
    if (key !== null) {
      const older = this.#coalesce.get(key);
      if (older !== undefined && this.#items.delete(older)) {
        this.#logger.debug(
          { rolloutId: envelope.rolloutId, replaced: older, by: counter },
          'outbound: coalesced',
        );
      }
      this.#coalesce.set(key, counter);
    }
    this.#items.set(counter, { ...viewOf(counter, envelope, false), envelope, name: null });
    const memory = [...this.#items.values()].filter((i) => !i.durable);
    for (let excess = memory.length - this.#memoryLimit, i = 0; excess > 0; excess--, i++) {
      const victim = memory[i] as Item;
      this.#items.delete(victim.counter);
      this.#logger.warn(
        { rolloutId: victim.rolloutId, seq: victim.seq, kind: victim.kind },
        'outbound: non-durable event dropped (memory limit)',
      );
    }
  }

  /** Pending events in the order the next pass sends them. */
  pending(): PendingEvent[] {
    return deliveryOrder([...this.#items.values()]).map(({ counter, rolloutId, seq, kind, durable }) => ({
      counter,
      rolloutId,
      seq,
      kind,
      durable,
    }));
  }

  /** Acked durable events still held for Replay-From, oldest first. */
  archived(): ArchivedEvent[] {
    return [...this.#sent.values()]
      .sort((a, b) => a.counter - b.counter)
      .map(({ counter, rolloutId, seq, kind }) => ({ counter, rolloutId, seq, kind }));
  }

  /** Names of dead-lettered files, for inspection. */
  deadLetters(): string[] {
    return [...this.#dead];
  }

  /**
   * One delivery pass: sends every pending event in `deliveryOrder`, stopping at the first one the
   * CP cannot take now (the order must hold, spec §6.10). Resolves with what happened; never throws.
   */
  drainOnce(send: OutboundSend): Promise<DrainReport> {
    return this.#exclusive(async () => {
      const report: DrainReport = { delivered: 0, deadLettered: 0, blocked: null };
      for (const item of deliveryOrder([...this.#items.values()])) {
        // Coalesced away or dropped while an earlier send was in flight.
        if (this.#items.get(item.counter) !== item) continue;
        let result: Awaited<ReturnType<OutboundSend>>;
        try {
          result = await send(item.envelope);
        } catch (error) {
          result = { ok: false, error: { code: 'Transport', message: (error as Error).message } };
        }
        const delivery = classifyResponse(result, this.#clock.now().getTime());
        if (delivery.kind === 'retry') {
          report.blocked = {
            counter: item.counter,
            status: delivery.status,
            detail: delivery.detail,
            retryAfterMs: delivery.retryAfterMs,
          };
          this.#logger.warn(
            {
              rolloutId: item.rolloutId,
              seq: item.seq,
              kind: item.kind,
              status: delivery.status,
              detail: delivery.detail,
            },
            'outbound: CP did not take the event; will retry',
          );
          return report;
        }
        const settled =
          delivery.kind === 'delivered'
            ? await this.#archive(item)
            : await this.#deadLetter(item, delivery.status, delivery.detail);
        if (!settled.ok) {
          report.blocked = {
            counter: item.counter,
            status: null,
            detail: settled.message,
            retryAfterMs: null,
          };
          return report;
        }
        if (delivery.kind === 'delivered') report.delivered++;
        else report.deadLettered++;
      }
      return report;
    });
  }

  /**
   * Replay-From (spec §10 G13): the CP applied this rollout's events up to `fromSeq` and lost the
   * rest. Moves every archived event of the rollout with a greater seq back into the queue, each
   * once (a rename is atomic, and an event already pending is not duplicated); `deliveryOrder`
   * then sends them ahead of the rollout's newer pending events.
   */
  replayFrom(rolloutId: string, fromSeq: number): Promise<ReplayReport> {
    return this.#exclusive(async () => {
      const report: ReplayReport = { rolloutId, fromSeq, requeued: [], alreadyPending: [] };
      const pendingSeqs = new Set(
        [...this.#items.values()]
          .filter((i) => i.rolloutId === rolloutId && i.seq > fromSeq)
          .map((i) => i.seq),
      );
      report.alreadyPending = [...pendingSeqs].sort((a, b) => a - b);
      // The newest archived copy of each seq (a seq can be archived twice across a bootstrap).
      const bySeq = new Map<number, Archived>();
      for (const a of this.#sent.values()) {
        if (a.rolloutId !== rolloutId || a.seq <= fromSeq || pendingSeqs.has(a.seq)) continue;
        const seen = bySeq.get(a.seq);
        if (seen === undefined || seen.counter < a.counter) bySeq.set(a.seq, a);
      }
      for (const a of [...bySeq.values()].sort((x, y) => x.seq - y.seq)) {
        const from = join(this.dir, SENT_DIR, a.name);
        const parsed = parseQueuedEventFile(await readFile(from, 'utf8').catch(() => ''));
        if (!parsed.ok) {
          this.#sent.delete(a.name);
          continue;
        }
        const counter = this.#nextCounter++;
        const name = renumbered(a.name, counter);
        try {
          await rename(from, join(this.dir, name));
        } catch (error) {
          this.#logger.error(
            { file: a.name, error: (error as Error).message },
            'outbound: replay rename failed',
          );
          continue;
        }
        this.#sent.delete(a.name);
        const envelope = parsed.file.envelope;
        this.#items.set(counter, { ...viewOf(counter, envelope, true), envelope, name });
        report.requeued.push(a.seq);
      }
      if (report.requeued.length > 0) {
        await syncDirectory(join(this.dir, SENT_DIR));
        await syncDirectory(this.dir);
      }
      this.#logger.info({ ...report }, 'outbound: replay-from');
      return report;
    });
  }

  async #archive(item: Item): Promise<{ ok: true } | { ok: false; message: string }> {
    this.#forget(item);
    if (item.name === null) return { ok: true };
    const name = item.name;
    if (this.#sentLimit === 0) {
      const r = await removeFile(join(this.dir, name));
      if (!r.ok) this.#items.set(item.counter, item);
      return r;
    }
    const moved = await moveFile(join(this.dir, name), join(this.dir, SENT_DIR, name));
    if (!moved.ok) {
      this.#items.set(item.counter, item);
      return moved;
    }
    this.#sent.set(name, {
      counter: item.counter,
      rolloutId: item.rolloutId,
      seq: item.seq,
      kind: item.kind,
      name,
    });
    await this.#prune(SENT_DIR);
    return { ok: true };
  }

  async #deadLetter(
    item: Item,
    status: number,
    detail: string,
  ): Promise<{ ok: true } | { ok: false; message: string }> {
    this.#forget(item);
    this.#logger.warn(
      { rolloutId: item.rolloutId, seq: item.seq, kind: item.kind, status, detail, durable: item.durable },
      'outbound: CP refused the event for good; dead-lettered',
    );
    if (item.name === null) return { ok: true };
    const name = item.name;
    const moved = await moveFile(join(this.dir, name), join(this.dir, DEAD_DIR, name));
    if (!moved.ok) {
      this.#items.set(item.counter, item);
      return moved;
    }
    this.#dead.push(name);
    // Best effort: the event itself is already safe in dead/, the reason only helps the operator.
    await writeFileAtomic(
      join(this.dir, DEAD_DIR, reasonFileName(name)),
      `${JSON.stringify({ status, detail, at: this.#clock.now().toISOString() }, null, 2)}\n`,
    ).catch(() => undefined);
    await this.#prune(DEAD_DIR);
    return { ok: true };
  }

  #forget(item: Item): void {
    this.#items.delete(item.counter);
    const key = coalesceKey(item.envelope);
    if (key !== null && this.#coalesce.get(key) === item.counter) this.#coalesce.delete(key);
  }

  async #prune(sub: typeof SENT_DIR | typeof DEAD_DIR): Promise<void> {
    if (sub === SENT_DIR) {
      const sorted = [...this.#sent.values()].sort((a, b) => a.counter - b.counter);
      for (const a of sorted.slice(0, Math.max(0, sorted.length - this.#sentLimit))) {
        this.#sent.delete(a.name);
        await unlink(join(this.dir, SENT_DIR, a.name)).catch(() => undefined);
      }
      return;
    }
    this.#dead.sort();
    while (this.#dead.length > this.#deadLimit) {
      const name = this.#dead.shift() as string;
      await unlink(join(this.dir, DEAD_DIR, name)).catch(() => undefined);
      await unlink(join(this.dir, DEAD_DIR, reasonFileName(name))).catch(() => undefined);
    }
  }

  #exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#serial.then(fn, fn);
    this.#serial = run.catch(() => undefined);
    return run;
  }
}

/** rename + fsync of both directories; a source already gone counts as moved (spec §6.10 mark_sent). */
async function moveFile(from: string, to: string): Promise<{ ok: true } | { ok: false; message: string }> {
  try {
    await rename(from, to);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { ok: true };
    return { ok: false, message: `cannot move ${from}: ${(error as Error).message}` };
  }
  try {
    await syncDirectory(join(to, '..'));
    await syncDirectory(join(from, '..'));
  } catch {
    // The rename happened; a lost fsync can only resurrect the file after power loss, which means
    // one duplicate send the CP answers 204 to.
  }
  return { ok: true };
}

async function removeFile(path: string): Promise<{ ok: true } | { ok: false; message: string }> {
  try {
    await unlink(path);
    return { ok: true };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { ok: true };
    return { ok: false, message: `cannot delete ${path}: ${(error as Error).message}` };
  }
}
