// Public door of the actor runtime, shared by the control plane and the agent.
export * from './actorKinds.ts';
export * from './actorRuntime.ts';
export * from './clock.ts';
export * from './errors.ts';
export * from './inspectionBus.ts';
export * from './keyedMailbox.ts';
export * from './snapshotStore.ts';
export * from './statelyBridge.ts';
export { isTemporaryFile, syncDirectory, writeFileAtomic } from './stores/atomicFile.ts';
export * from './stores/fileSnapshotStore.ts';
export * from './stores/postgresSnapshotStore.ts';
