// The enrollment CA (cp/enrollment/ca.ts): certificates node:crypto and OpenSSL accept as they are
// meant (CA, server, client), and CSRs refused for a reason.
import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import forge from 'node-forge';
import { describe, expect, it } from 'vitest';
import { createMtlsKeyAndCsr } from '../../agent/enrollment/index.ts';
import {
  createCa,
  issueClientCert,
  issueServerCert,
  loadCa,
  parseCsr,
  randomSerial,
} from '../../cp/enrollment/index.ts';

const NOW = new Date('2026-05-01T08:30:15.750Z');
const DAY = 86_400_000;
const ca = createCa({ commonName: 'fleet CA', validityMs: 30 * DAY, now: NOW, modulusLength: 2048 });
const caX509 = new X509Certificate(ca.certPem);

function csrWith(
  build: (csr: forge.pki.CertificateSigningRequest, keyPem: string) => void,
  bits = 2048,
): string {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', {
    modulusLength: bits,
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  });
  const csr = forge.pki.createCertificationRequest();
  csr.publicKey = forge.pki.publicKeyFromPem(publicKey);
  build(csr, privateKey);
  return forge.pki.certificationRequestToPem(csr);
}
const sign = (csr: forge.pki.CertificateSigningRequest, keyPem: string) =>
  csr.sign(forge.pki.privateKeyFromPem(keyPem), forge.md.sha256.create());

describe('enrollment CA', () => {
  it('is a self-signed CA certificate with second-precision validity', () => {
    expect(caX509.ca).toBe(true);
    expect(caX509.subject).toBe('CN=fleet CA');
    expect(caX509.verify(caX509.publicKey)).toBe(true);
    expect(new Date(caX509.validFrom).toISOString()).toBe('2026-05-01T08:30:15.000Z');
    expect(loadCa({ certPem: ca.certPem, keyPem: ca.keyPem }).ok).toBe(true);
  });

  it('refuses to load a key that is not the certificate’s, or a certificate that is not a CA', () => {
    const other = createCa({ commonName: 'other', validityMs: DAY, now: NOW, modulusLength: 2048 });
    const mismatch = loadCa({ certPem: ca.certPem, keyPem: other.keyPem });
    expect(!mismatch.ok && mismatch.error.code).toBe('CaKeyMismatch');
    const server = issueServerCert({ ca, names: ['cp'], validityMs: DAY, now: NOW });
    const notCa = loadCa({ certPem: server.certPem, keyPem: server.keyPem });
    expect(!notCa.ok && notCa.error.code).toBe('CaNotACa');
    const garbage = loadCa({ certPem: 'x', keyPem: 'y' });
    expect(!garbage.ok && garbage.error.code).toBe('CaUnreadable');
  });

  it('issues a CP server certificate for DNS names and IP addresses', () => {
    const server = issueServerCert({
      ca,
      names: ['cp.example', 'localhost', '127.0.0.1'],
      validityMs: DAY,
      now: NOW,
    });
    const x = new X509Certificate(server.certPem);
    expect(x.subject).toBe('CN=cp.example');
    expect(x.subjectAltName).toBe('DNS:cp.example, DNS:localhost, IP Address:127.0.0.1');
    expect(x.keyUsage).toEqual(['1.3.6.1.5.5.7.3.1']);
    expect(x.verify(caX509.publicKey)).toBe(true);
    expect(x.checkIssued(caX509)).toBe(true);
    expect(x.checkHost('cp.example')).toBe('cp.example');
    expect(x.checkIP('127.0.0.1')).toBe('127.0.0.1');
  });

  it('issues client certificates with the CN it is told, clientAuth only, and random serials', () => {
    const { csrPem } = createMtlsKeyAndCsr('web-01');
    const parsed = parseCsr(csrPem);
    if (!parsed.ok) throw new Error(parsed.error.message);
    expect(parsed.csr.commonName).toBe('web-01');
    const issued = Array.from({ length: 5 }, () =>
      issueClientCert(parsed.csr, { ca, cn: 'agent-web-01', validityMs: 3_600_000, now: NOW }),
    );
    const [first] = issued;
    const x = new X509Certificate(first?.certPem ?? '');
    expect(x.subject).toBe('CN=agent-web-01');
    expect(x.subjectAltName).toBe('DNS:agent-web-01');
    expect(x.keyUsage).toEqual(['1.3.6.1.5.5.7.3.2']);
    expect(x.ca).toBe(false);
    expect(x.verify(caX509.publicKey)).toBe(true);
    expect(first?.notBefore.toISOString()).toBe('2026-05-01T08:30:15.000Z');
    expect(first?.notAfter.toISOString()).toBe('2026-05-01T09:30:15.000Z');
    expect(new Set(issued.map((c) => c.serial)).size).toBe(5);
    for (const c of issued) expect(c.serial).toMatch(/^[0-7][0-9a-f]{31}$/);
  });

  it('never issues a leaf that outlives the CA', () => {
    const { csrPem } = createMtlsKeyAndCsr('web-01');
    const parsed = parseCsr(csrPem);
    if (!parsed.ok) throw new Error(parsed.error.message);
    const long = issueClientCert(parsed.csr, { ca, cn: 'agent-web-01', validityMs: 365 * DAY, now: NOW });
    expect(long.notAfter.getTime()).toBe(new Date(caX509.validTo).getTime());
  });

  it('refuses CSRs that are garbage, signed by another key, too weak, CN-less or not RSA', () => {
    const otherKey = generateKeyPairSync('rsa', {
      modulusLength: 2048,
      privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
      publicKeyEncoding: { type: 'spki', format: 'pem' },
    }).privateKey;
    // forge cannot write a non-RSA CSR: swap an ed25519 SubjectPublicKeyInfo into an RSA one's ASN.1.
    const ed25519Csr = (() => {
      const rsaCsr = forge.pki.certificationRequestFromPem(
        csrWith((csr, key) => {
          csr.setSubject([{ name: 'commonName', value: 'web-01' }]);
          sign(csr, key);
        }),
      );
      const asn1 = forge.pki.certificationRequestToAsn1(rsaCsr);
      const spki = generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'der' });
      const info = (asn1.value as forge.asn1.Asn1[])[0];
      (info?.value as forge.asn1.Asn1[])[2] = forge.asn1.fromDer(spki.toString('binary'));
      const der = Buffer.from(forge.asn1.toDer(asn1).getBytes(), 'binary');
      return `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString('base64')}\n-----END CERTIFICATE REQUEST-----\n`;
    })();
    const cases: [string, string][] = [
      ['-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n', 'CsrMalformed'],
      [
        csrWith((csr) => {
          csr.setSubject([{ name: 'commonName', value: 'web-01' }]);
          sign(csr, otherKey);
        }),
        'CsrSignatureInvalid',
      ],
      [
        csrWith((csr, key) => {
          csr.setSubject([{ name: 'commonName', value: 'web-01' }]);
          sign(csr, key);
        }, 1024),
        'CsrKeyUnsupported',
      ],
      [
        csrWith((csr, key) => {
          csr.setSubject([{ name: 'organizationName', value: 'acme' }]);
          sign(csr, key);
        }),
        'CsrNoCommonName',
      ],
      [
        csrWith((csr, key) => {
          csr.setSubject([
            { name: 'commonName', value: 'web-01' },
            { name: 'commonName', value: 'web-02' },
          ]);
          sign(csr, key);
        }),
        'CsrNoCommonName',
      ],
      [ed25519Csr, 'CsrKeyUnsupported'],
    ];
    for (const [pem, code] of cases) {
      const parsed = parseCsr(pem);
      expect(parsed.ok ? 'ok' : parsed.error.code, code).toBe(code);
    }
  });
});

describe('certificate serials', () => {
  // Regression: a serial starting with a zero byte lost it in DER, so the audited serial did not
  // match the one the certificate reports (an intermittent renewal-audit failure).
  it('are positive 16-byte integers whose hex survives DER unchanged', () => {
    for (let i = 0; i < 2000; i++) expect(randomSerial()).toMatch(/^[1-7][0-9a-f]{31}$/);
  });
});
