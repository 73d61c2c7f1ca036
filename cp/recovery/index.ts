// Public door of the CP's heartbeat recovery (spec §7.4-7.6, §7.17, §10 G7/G12/G13): pure
// functions the heartbeat route and the actor runtime call; no I/O, time passed in.
export * from './activationDeadline.ts';
export * from './bootstrapSnapshots.ts';
export * from './recoverFromHeartbeat.ts';
export * from './replayFrom.ts';
export * from './synthesizeFromHeartbeat.ts';
