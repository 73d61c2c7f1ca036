// Public door of the control plane: the daemon, its app and the pieces the planner and recovery
// integrations plug into.
export * from './app.ts';
export * from './config.ts';
export * from './controlPlane.ts';
export * from './dispatch/index.ts';
export * from './effects/index.ts';
export * from './logger.ts';
export * from './metrics.ts';
export * from './planRunner.ts';
export * from './planTicker.ts';
export * from './releaseSource/index.ts';
export { dispatchBody } from './routes/dispatch.ts';
export type { Readiness } from './routes/health.ts';
export type { AgentAuthMode, CpEnv } from './routes/shared.ts';
