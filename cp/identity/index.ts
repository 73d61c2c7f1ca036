// The identity folder's public door: mTLS CN → machine id, revocation by notBefore, and the Hono
// middleware that puts the verified caller on the context (spec §5.1-5.2).
export { jsonError, RETRY_AFTER_SECONDS } from './jsonError.ts';
export { agentCn, cnNamesMachine, machineIdFromCn } from './machineId.ts';
export {
  createIdentityMiddleware,
  hostMismatch,
  type Identity,
  type IdentityEnv,
  type IdentityMiddlewareOptions,
  type IdentityVariables,
  type PeerCertificateResult,
  requirePathHost,
  verifiedPeerCertificate,
} from './middleware.ts';
export { createDbRevocationLookup, isRevoked, type RevocationLookup } from './revocations.ts';
