// Public door of release trust: trust.json, signing, and verification of CI-signed artifacts.
export * from './revocations.ts';
export * from './signature.ts';
export * from './trustFile.ts';
export * from './verify.ts';
