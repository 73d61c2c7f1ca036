// Public door of the fleet domain model: the fleet description, its resolution and invariants
// (mkFleet), the signed `fleet.resolved.json` and rollout-manifest schemas, selectors, rollout ids.
export * from './fieldPath.ts';
export * from './fleetInput.ts';
export * from './fleetResolved.ts';
export * from './mkFleet.ts';
export * from './projectManifests.ts';
export * from './rolloutId.ts';
export * from './rolloutManifest.ts';
export * from './selector.ts';
export * from './zodIssues.ts';
