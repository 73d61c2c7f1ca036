// Public door of the CP's release source: the verified release set and its poller (spec §7.10).
export * from './releaseSource.ts';
