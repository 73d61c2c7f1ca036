export * from './agentEvent.ts';
export * from './canonicalJson.ts';
export * from './common.ts';
export * from './fleet/index.ts';
export * from './hostRolloutSnapshot.ts';
export * from './rolloutEvent.ts';
export * from './trust/index.ts';
