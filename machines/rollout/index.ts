export * from './context.ts';
export * from './persisted.ts';
export * from './rollout.machine.ts';
export * from './step.ts';
export * from './terminalRule.ts';
export * from './wavePromotion.ts';
