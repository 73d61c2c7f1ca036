// The agent's side of enrollment and renewal (spec §5.8-5.9, §6.14): make a fresh mTLS key and
// CSR, prove possession of the SSH host key over the CSR, post, and check what comes back.
import { createPrivateKey, type KeyObject, randomBytes, X509Certificate } from 'node:crypto';
import { readBootstrapTokenClaimsUnverified } from '../../proto/bootstrapToken.ts';
import { certificateResponseSchema, errorBodySchema } from '../../proto/enrollment.ts';
import { signPossessionProof } from '../../proto/possessionProof.ts';
import { createMtlsKeyAndCsr } from './csr.ts';
import { httpsJson } from './httpsJson.ts';

/** A certificate and its key, as kept in `<stateDir>/tls/`. */
export interface TlsIdentity {
  readonly keyPem: string;
  readonly certPem: string;
  readonly notAfter: Date;
}

export type EnrollmentClientError =
  | { code: 'Refused'; status: number; error: string; detail: string }
  | { code: 'Transport'; message: string }
  | { code: 'BadResponse'; message: string }
  | { code: 'BadToken'; message: string };

export type EnrollmentClientResult =
  | { ok: true; identity: TlsIdentity }
  | { ok: false; error: EnrollmentClientError };

interface CommonOptions {
  /** `--control-plane-url`, e.g. `https://cp.example:8080`. */
  controlPlaneUrl: string;
  /** The fleet CA (PEM), anchor for the CP's server certificate. */
  caPem: string;
  /** The host's SSH ed25519 private key. */
  sshHostKey: KeyObject;
  now: Date;
  timeoutMs?: number;
}

export interface EnrollOptions extends CommonOptions {
  /** The bootstrap token's compact JWS (`--bootstrap-token-file`). */
  token: string;
}

export interface RenewOptions extends CommonOptions {
  /** `--machine-id`: the host this agent is; the CSR names it. */
  hostname: string;
  /** The current, still valid client certificate and key. */
  current: { certPem: string; keyPem: string };
}

/** First boot: trade the bootstrap token for a client certificate. */
export async function enroll(options: EnrollOptions): Promise<EnrollmentClientResult> {
  // The CSR must name the token's host; the CP re-checks everything after verifying the signature.
  const read = readBootstrapTokenClaimsUnverified(options.token);
  if (!read.ok) return { ok: false, error: { code: 'BadToken', message: read.message } };
  const { hostname, nonce } = read.claims;
  const { keyPem, csrPem } = createMtlsKeyAndCsr(hostname);
  const proof = await signPossessionProof({ sshKey: options.sshHostKey, csrPem, nonce, now: options.now });
  return exchange(options, '/v1/enroll', { token: options.token.trim(), csrPem, proof }, keyPem, undefined);
}

/** Renewal over mTLS with the current certificate; a fresh nonce of our own replaces the token's. */
export async function renew(options: RenewOptions): Promise<EnrollmentClientResult> {
  const { keyPem, csrPem } = createMtlsKeyAndCsr(options.hostname);
  const nonce = randomBytes(16).toString('hex');
  const proof = await signPossessionProof({ sshKey: options.sshHostKey, csrPem, nonce, now: options.now });
  return exchange(options, '/v1/agent/renew', { csrPem, nonce, proof }, keyPem, options.current);
}

async function exchange(
  options: CommonOptions,
  path: string,
  body: unknown,
  keyPem: string,
  client: { certPem: string; keyPem: string } | undefined,
): Promise<EnrollmentClientResult> {
  const result = await httpsJson(new URL(path, options.controlPlaneUrl).toString(), {
    body,
    tls: { ca: options.caPem, cert: client?.certPem, key: client?.keyPem },
    ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
  });
  if (!result.ok) return { ok: false, error: result.error };
  const { status, body: answer } = result.response;
  if (status !== 200) {
    const refusal = errorBodySchema.safeParse(answer);
    return {
      ok: false,
      error: refusal.success
        ? { code: 'Refused', status, error: refusal.data.error, detail: refusal.data.detail }
        : { code: 'Refused', status, error: 'unknown', detail: `HTTP ${status} without an error body` },
    };
  }
  const parsed = certificateResponseSchema.safeParse(answer);
  if (!parsed.success)
    return {
      ok: false,
      error: { code: 'BadResponse', message: 'the CP answered 200 without a certificate' },
    };
  // Never store a certificate that does not belong to the key we just made.
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(parsed.data.certPem);
  } catch {
    return { ok: false, error: { code: 'BadResponse', message: 'the returned certificate does not parse' } };
  }
  if (!cert.checkPrivateKey(createPrivateKey(keyPem))) {
    return {
      ok: false,
      error: { code: 'BadResponse', message: 'the returned certificate is for another key' },
    };
  }
  if (!cert.verify(new X509Certificate(options.caPem).publicKey)) {
    return {
      ok: false,
      error: { code: 'BadResponse', message: 'the returned certificate is not signed by the fleet CA' },
    };
  }
  return { ok: true, identity: { keyPem, certPem: parsed.data.certPem, notAfter: new Date(cert.validTo) } };
}
