// The agent's mTLS identity is a fresh RSA key per enrollment or renewal (the CA is node-forge,
// RSA-only); the SSH host key never leaves its file; it only signs the possession proof.
import { createPrivateKey, generateKeyPairSync, sign } from 'node:crypto';
import forge from 'node-forge';

/** The CA refuses smaller keys (cp/enrollment MIN_RSA_BITS). */
const MTLS_RSA_BITS = 2048;

export interface MtlsKeyAndCsr {
  /** PKCS#8 PEM; written 0600 beside the issued certificate. */
  readonly keyPem: string;
  /** PKCS#10 PEM, CN = the host name, signed by `keyPem` (SHA-256). */
  readonly csrPem: string;
}

/** forge's own `getCertificationRequestInfo`, present at runtime but missing from @types/node-forge. */
const forgePki = forge.pki as typeof forge.pki & {
  getCertificationRequestInfo(csr: forge.pki.CertificateSigningRequest): forge.asn1.Asn1;
};

export function createMtlsKeyAndCsr(hostname: string): MtlsKeyAndCsr {
  // Native keygen and signing: forge's pure-JS RSA takes seconds to generate and ~0.1 s to sign.
  const { privateKey: keyPem, publicKey: publicKeyPem } = generateKeyPairSync('rsa', {
    modulusLength: MTLS_RSA_BITS,
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  });
  const csr = forge.pki.createCertificationRequest();
  csr.publicKey = forge.pki.publicKeyFromPem(publicKeyPem);
  csr.setSubject([{ name: 'commonName', value: hostname }]);
  // What forge's `csr.sign(key, sha256)` does (x509.js), with the RSA operation done by OpenSSL.
  csr.md = forge.md.sha256.create();
  csr.signatureOid = forge.pki.oids.sha256WithRSAEncryption ?? '1.2.840.113549.1.1.11';
  csr.siginfo.algorithmOid = csr.signatureOid;
  csr.certificationRequestInfo = forgePki.getCertificationRequestInfo(csr);
  const info = Buffer.from(forge.asn1.toDer(csr.certificationRequestInfo).getBytes(), 'binary');
  csr.signature = sign('sha256', info, createPrivateKey(keyPem)).toString('binary');
  return { keyPem, csrPem: forge.pki.certificationRequestToPem(csr) };
}
