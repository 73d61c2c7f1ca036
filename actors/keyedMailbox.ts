// One mutator per actor: work for one key runs strictly in arrival order, one item at a time;
// different keys run concurrently. A failed item does not poison the queue behind it.
export class KeyedMailbox {
  readonly #tails = new Map<string, Promise<unknown>>();

  run<T>(key: string, work: () => Promise<T>): Promise<T> {
    const tail = this.#tails.get(key) ?? Promise.resolve();
    const result = tail.then(work, work);
    // The tail swallows the outcome: callers see it through `result`, the chain only orders.
    const settled = result.then(
      () => undefined,
      () => undefined,
    );
    this.#tails.set(key, settled);
    void settled.then(() => {
      if (this.#tails.get(key) === settled) this.#tails.delete(key);
    });
    return result;
  }

  /** Keys with queued or running work. */
  get busyKeys(): number {
    return this.#tails.size;
  }

  /** Resolves once everything queued so far, for every key, has settled. */
  async drain(): Promise<void> {
    while (this.#tails.size > 0) await Promise.all([...this.#tails.values()]);
  }
}
