// Feeds the runtime's inspection stream into @statelyai/inspect (the XState v5 inspector protocol),
// so any of its adapters — WebSocket, a custom one over the CP's own channel — receive standard
// `@xstate.actor` / `@xstate.event` / `@xstate.snapshot` frames for every actor.
import { createInspector } from '@statelyai/inspect';
import { hostRolloutMachine, rolloutMachine } from '../machines/index.ts';
import type { ActorKindName } from './actorKinds.ts';
import type { InspectionBus } from './inspectionBus.ts';

type Adapter = Parameters<typeof createInspector>[0];
type InspectorOptions = NonNullable<Parameters<typeof createInspector>[1]>;
type ActorArg = Parameters<ReturnType<typeof createInspector>['actor']>[0];

// The manual API takes the chart definition from `actorRef.logic.config` (as it does for live
// actors), so registration passes a minimal ref carrying the chart, with the actor key as session.
const CONFIGS: Record<ActorKindName, unknown> = {
  hostRollout: hostRolloutMachine.config,
  rollout: rolloutMachine.config,
};
const refFor = (actorId: string, kind: ActorKindName): ActorArg =>
  ({ sessionId: actorId, id: actorId, logic: { config: CONFIGS[kind] } }) as unknown as ActorArg;

/** Subscribes `adapter` to the bus; returns the function that unsubscribes and stops it. */
export function bridgeToStatelyInspector(
  bus: InspectionBus,
  adapter: Adapter,
  options: Omit<InspectorOptions, 'autoStart'> = {},
): () => void {
  const inspector = createInspector(adapter, { ...options, autoStart: true });
  const unsubscribe = bus.subscribe((frame) => {
    switch (frame.type) {
      case '@xstate.actor':
        inspector.actor(refFor(frame.actorId, frame.kind), frame.snapshot);
        break;
      case '@xstate.event':
        inspector.event(frame.actorId, frame.event);
        break;
      case '@xstate.snapshot':
        inspector.snapshot(frame.actorId, frame.snapshot, { event: frame.event });
        break;
      default:
        // Refusals have no standard frame; the CP's own inspector page shows them.
        break;
    }
  });
  return () => {
    unsubscribe();
    inspector.stop();
  };
}
