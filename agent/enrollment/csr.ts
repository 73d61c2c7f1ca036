// The agent's mTLS identity is a fresh RSA key per enrollment or renewal (the CA is node-forge,
// RSA-only); the SSH host key never leaves its file; it only signs the possession proof.
import { generateKeyPairSync } from 'node:crypto';
import forge from 'node-forge';

/** The CA refuses smaller keys (cp/enrollment MIN_RSA_BITS). */
const MTLS_RSA_BITS = 2048;

export interface MtlsKeyAndCsr {
  /** PKCS#8 PEM; written 0600 beside the issued certificate. */
  readonly keyPem: string;
  /** PKCS#10 PEM, CN = the host name, signed by `keyPem` (SHA-256). */
  readonly csrPem: string;
}

export function createMtlsKeyAndCsr(hostname: string): MtlsKeyAndCsr {
  // Native keygen (~50 ms) rather than forge's pure-JS RSA (seconds).
  const { privateKey: keyPem, publicKey: publicKeyPem } = generateKeyPairSync('rsa', {
    modulusLength: MTLS_RSA_BITS,
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  });
  const csr = forge.pki.createCertificationRequest();
  csr.publicKey = forge.pki.publicKeyFromPem(publicKeyPem);
  csr.setSubject([{ name: 'commonName', value: hostname }]);
  // One forge RSA signature per enrollment or renewal: slow-ish in pure JS, but rare.
  csr.sign(forge.pki.privateKeyFromPem(keyPem), forge.md.sha256.create());
  return { keyPem, csrPem: forge.pki.certificationRequestToPem(csr) };
}
