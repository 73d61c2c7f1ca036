export * from './agentEvent.ts';
export * from './common.ts';
export * from './hostRolloutSnapshot.ts';
export * from './rolloutEvent.ts';
