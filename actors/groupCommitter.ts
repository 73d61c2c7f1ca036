// Group commit: writes that arrive while a transaction is in flight are batched into the next one.
// Each actor waits for its own write before stepping again, so per-actor order is untouched; the
// batching is purely across actors, which is what lets many actors share one fsync.
import type { ActorWrite, EffectMark, SnapshotStore, WriteOutcome } from './snapshotStore.ts';

/** Effect marks waiting for a transaction to ride in; handed back if that transaction fails. */
export interface MarkSource {
  take(): EffectMark[];
  giveBack(marks: EffectMark[]): void;
}

interface Pending {
  write: ActorWrite;
  resolve: (o: WriteOutcome) => void;
  reject: (e: unknown) => void;
}

export class GroupCommitter {
  readonly #store: SnapshotStore;
  readonly #maxBatch: number;
  #queue: Pending[] = [];
  #flushing = false;

  readonly #marks: MarkSource;

  constructor(store: SnapshotStore, marks: MarkSource, maxBatch = 500) {
    this.#store = store;
    this.#marks = marks;
    this.#maxBatch = maxBatch;
  }

  get idle(): boolean {
    return !this.#flushing;
  }

  commit(write: ActorWrite): Promise<WriteOutcome> {
    return new Promise((resolve, reject) => {
      this.#queue.push({ write, resolve, reject });
      if (!this.#flushing) void this.#flush();
    });
  }

  async #flush(): Promise<void> {
    this.#flushing = true;
    try {
      while (this.#queue.length > 0) {
        const batch = this.#queue.splice(0, this.#maxBatch);
        const marks = this.#marks.take();
        try {
          const outcomes = await this.#store.write(
            batch.map((p) => p.write),
            marks,
          );
          batch.forEach((p, i) => {
            p.resolve(outcomes[i] ?? 'conflict');
          });
        } catch (err) {
          this.#marks.giveBack(marks);
          for (const p of batch) p.reject(err);
        }
      }
    } finally {
      this.#flushing = false;
    }
  }
}
