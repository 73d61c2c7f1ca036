// Group commit: writes that arrive while a transaction is in flight are batched into the next one.
// Each actor waits for its own write before stepping again, so per-actor order is untouched; the
// batching is purely across actors, which is what lets many actors share one fsync.
import type { ActorWrite, SnapshotStore, WriteOutcome } from './snapshotStore.ts';

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

  constructor(store: SnapshotStore, maxBatch = 500) {
    this.#store = store;
    this.#maxBatch = maxBatch;
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
        try {
          const outcomes = await this.#store.write(batch.map((p) => p.write));
          batch.forEach((p, i) => {
            p.resolve(outcomes[i] ?? 'conflict');
          });
        } catch (err) {
          for (const p of batch) p.reject(err);
        }
      }
    } finally {
      this.#flushing = false;
    }
  }
}
