// The enrollment folder's public door: the CA (node-forge X.509 with RSA keys), the enrollment and
// renewal service with its ports, and its Hono routes (spec §1.16, §5.8-5.9, issue 4).
export {
  type CaMaterial,
  type CreateCaOptions,
  type CsrError,
  type CsrErrorCode,
  certificateSubjectCn,
  createCa,
  type EnrollmentCa,
  generateRsaKeyPair,
  type IssueClientCertOptions,
  type IssuedCert,
  type IssueServerCertOptions,
  issueClientCert,
  issueServerCert,
  type KeyPairPem,
  type LoadCaError,
  loadCa,
  MIN_RSA_BITS,
  type ParsedCsr,
  parseCsr,
  randomSerial,
} from './ca.ts';
export {
  createEnrollmentService,
  type EnrollmentOutcome,
  type EnrollmentRefusal,
  type EnrollmentService,
  type EnrollmentServiceOptions,
  type EnrollmentStatus,
  MIN_AGENT_CERT_VALIDITY_MS,
} from './enrollmentService.ts';
export {
  createDbIssuanceStore,
  type IssuanceStore,
  type IssueOnceRequest,
  type IssueOnceResult,
} from './issuanceStore.ts';
export {
  type DeclaredHost,
  type DeclaredHosts,
  ed25519PublicKeyFromBase64,
  type OrgRootKeys,
  staticDeclaredHosts,
  staticOrgRootKeys,
} from './ports.ts';
export { createEnrollmentRoutes, type EnrollmentRoutesOptions, MAX_BODY_BYTES } from './routes.ts';
export { orgRootKeysFromTrust } from './trustOrgRootKeys.ts';
