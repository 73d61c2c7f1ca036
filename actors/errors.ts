/** The store could not be read or written; the step was not accepted and may be retried. */
export class ActorStoreError extends Error {
  readonly code = 'ActorStoreUnavailable';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ActorStoreError';
  }
}

/** Refusals that come from the runtime rather than the chart. */
export type RuntimeRefusal =
  | { code: 'UnknownActor'; key: string }
  | { code: 'Quarantined'; key: string; reason: string }
  | { code: 'WrongKind'; key: string; expected: string; actual: string };
