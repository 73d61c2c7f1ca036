// Every actor step is observable as a stream of inspection frames shaped like XState's own
// inspection events (`@xstate.actor`, `@xstate.event`, `@xstate.snapshot`). The runtime steps charts
// with the pure `transition()`, so there is no live actor system to observe; it publishes these
// frames itself, after the step is durable.
import type { ActorKindName } from './actorKinds.ts';

export interface InspectedSnapshot {
  value: string;
  status: 'active' | 'done';
  context: unknown;
}

export type InspectionFrame =
  | {
      type: '@xstate.actor';
      actorId: string;
      kind: ActorKindName;
      machineId: string;
      machineVersion: number;
      snapshot: InspectedSnapshot;
      /** `spawn` for a new actor, `rehydrate` for one restored from storage at start. */
      reason: 'spawn' | 'rehydrate';
    }
  | { type: '@xstate.event'; actorId: string; event: { type: string } & Record<string, unknown> }
  | {
      type: '@xstate.snapshot';
      actorId: string;
      event: { type: string } & Record<string, unknown>;
      snapshot: InspectedSnapshot;
      from: string;
      to: string;
      effects: readonly unknown[];
    }
  | {
      /** Not an XState frame: the chart refused the event (kept for debugging rollouts). */
      type: '@nixfleet.rejected';
      actorId: string;
      event: { type: string } & Record<string, unknown>;
      error: { code: string } & Record<string, unknown>;
    };

export type InspectionListener = (frame: InspectionFrame) => void;

export class InspectionBus {
  readonly #listeners = new Set<InspectionListener>();

  subscribe(listener: InspectionListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  get hasListeners(): boolean {
    return this.#listeners.size > 0;
  }

  publish(frame: InspectionFrame): void {
    // A broken observer must not break the runtime that feeds it.
    for (const listener of this.#listeners) {
      try {
        listener(frame);
      } catch {
        this.#listeners.delete(listener);
      }
    }
  }
}
