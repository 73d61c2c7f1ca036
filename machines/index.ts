// Public door of the shared statecharts: both the agent and the control plane import from here.
export * from './common/persisted.ts';
export * from './common/time.ts';
export * from './hostRollout/index.ts';
export * from './rollout/index.ts';
