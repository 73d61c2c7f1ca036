// Public door of the CP's effect applier (spec §7.8).
export * from './cpApplier.ts';
