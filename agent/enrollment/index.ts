// The agent's enrollment door: first-boot enrollment with a bootstrap token, renewal over mTLS, the
// SSH host key loader and the `<stateDir>/tls/` store (spec §5.8-5.9, §6.14).
export {
  type EnrollmentClientError,
  type EnrollmentClientResult,
  type EnrollOptions,
  enroll,
  type RenewOptions,
  renew,
  type TlsIdentity,
} from './client.ts';
export { createMtlsKeyAndCsr, type MtlsKeyAndCsr } from './csr.ts';
export {
  type HttpsJsonOptions,
  type HttpsJsonResponse,
  type HttpsJsonResult,
  type HttpsJsonTls,
  httpsJson,
} from './httpsJson.ts';
export { type LoadSshHostKeyResult, loadSshHostKey } from './sshHostKey.ts';
export { readTlsIdentity, renewalDue, TLS_CERT_FILE, TLS_KEY_FILE, writeTlsIdentity } from './tlsStore.ts';
