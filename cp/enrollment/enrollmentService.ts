// Enrollment and renewal (spec §5.8-5.9, issue 4), independent of HTTP: a request body and the
// caller's identity in, a certificate or a typed refusal out. The check order follows §5.8 with the
// refusals that need no state first, and P14 fixed: every precondition, including the CA signer, is
// checked before the nonce is consumed, so a misconfigured CP never burns a valid token.
import { z } from 'zod';
import { verifyBootstrapToken } from '../../proto/bootstrapToken.ts';
import {
  type CertificateResponse,
  type EnrollmentErrorCode,
  enrollRequestSchema,
  renewRequestSchema,
} from '../../proto/enrollment.ts';
import { csrDer, PROOF_FRESHNESS_SECONDS, verifyPossessionProof } from '../../proto/possessionProof.ts';
import { parseSshPublicKey, type SshEd25519PublicKey } from '../../proto/sshKey.ts';
import { agentCn, cnNamesMachine, type Identity } from '../identity/index.ts';
import { type EnrollmentCa, issueClientCert, type ParsedCsr, parseCsr } from './ca.ts';
import type { IssuanceStore } from './issuanceStore.ts';
import type { DeclaredHosts, OrgRootKeys } from './ports.ts';

export type EnrollmentStatus = 400 | 401 | 403 | 409 | 500 | 503;

export interface EnrollmentRefusal {
  status: EnrollmentStatus;
  error: EnrollmentErrorCode;
  detail: string;
}

export type EnrollmentOutcome =
  | { ok: true; response: CertificateResponse }
  | { ok: false; refusal: EnrollmentRefusal };

export interface EnrollmentServiceOptions {
  store: IssuanceStore;
  /** The verified fleet's hosts; undefined until the CP has verified a release (→ 503). */
  declaredHosts: () => DeclaredHosts | undefined;
  orgRootKeys: OrgRootKeys;
  /** The issuing CA; undefined when `--ca-cert/--ca-key` are not configured (→ 503). */
  ca: () => EnrollmentCa | undefined;
  /** `--agent-cert-validity`, milliseconds. Short: renewal, not revocation, is the normal way out. */
  agentCertValidityMs: number;
  /** `--agent-cn-suffix`, if the fleet uses one. */
  cnSuffix?: string | undefined;
  clock: () => Date;
}

export interface EnrollmentService {
  /** `POST /v1/enroll`: `body` is the parsed JSON, unvalidated. */
  enroll(body: unknown): Promise<EnrollmentOutcome>;
  /** `POST /v1/agent/renew`: `identity` is the verified, unrevoked mTLS caller. */
  renew(identity: Identity, body: unknown): Promise<EnrollmentOutcome>;
}

/** The shortest certificate the CA will issue (spec §1.16's floor). */
export const MIN_AGENT_CERT_VALIDITY_MS = 60_000;

const refuse = (status: EnrollmentStatus, error: EnrollmentErrorCode, detail: string): EnrollmentOutcome => ({
  ok: false,
  refusal: { status, error, detail },
});

const NOT_READY_FLEET = refuse(
  503,
  'not_ready',
  'no verified fleet is loaded yet; retry once the CP is ready',
);
const NOT_READY_CA = refuse(
  503,
  'not_ready',
  'this CP has no issuing CA (--ca-cert/--ca-key); configure one, the token was not consumed',
);

export function createEnrollmentService(options: EnrollmentServiceOptions): EnrollmentService {
  if (options.agentCertValidityMs < MIN_AGENT_CERT_VALIDITY_MS) {
    throw new RangeError(`agent certificates must be valid for at least ${MIN_AGENT_CERT_VALIDITY_MS} ms`);
  }
  const issued = (cert: { certPem: string; notAfter: Date }): EnrollmentOutcome => ({
    ok: true,
    response: { certPem: cert.certPem, notAfter: cert.notAfter.toISOString() },
  });

  /**
   * Enrollment and renewal end the same way: consume the nonce and sign `agent-<host>` in one
   * transaction, or refuse with 409 when the nonce was already used.
   */
  async function issueForHost(request: {
    hostname: string;
    csr: ParsedCsr;
    ca: EnrollmentCa;
    nonce: string;
    nonceExpiresAt: Date;
    now: Date;
    requesterCn: string;
    context: string;
    replayDetail: string;
  }): Promise<EnrollmentOutcome> {
    const { hostname, csr, ca, now } = request;
    const cn = agentCn(hostname, options.cnSuffix);
    const result = await options.store.issueOnce({
      nonce: request.nonce,
      hostname,
      nonceExpiresAt: request.nonceExpiresAt,
      now,
      requesterCn: request.requesterCn,
      context: request.context,
      issue: () => ({
        cn,
        ...issueClientCert(csr, { ca, cn, validityMs: options.agentCertValidityMs, now }),
      }),
    });
    return result.ok ? issued(result.cert) : refuse(409, 'nonce_replayed', request.replayDetail);
  }

  /** The declared SSH key of `hostname`, or the refusal that explains why there is none. */
  function declaredKey(
    hosts: DeclaredHosts,
    hostname: string,
  ): { ok: true; key: SshEd25519PublicKey } | { ok: false; outcome: EnrollmentOutcome } {
    const host = hosts.lookup(hostname);
    if (host === undefined) {
      return {
        ok: false,
        outcome: refuse(
          401,
          'host_not_declared',
          `${hostname} is not a host of the verified fleet; add it to fleet.json and release`,
        ),
      };
    }
    const key = parseSshPublicKey(host.sshPubkey);
    if (!key.ok) {
      return {
        ok: false,
        outcome: refuse(
          401,
          'host_not_declared',
          `the fleet declares no usable SSH key for ${hostname} (${key.error.message}); declare its ssh-ed25519 host key`,
        ),
      };
    }
    return { ok: true, key: key.key };
  }

  function checkedCsr(
    csrPem: string,
    machineId: string,
  ): { ok: true; csr: ParsedCsr } | { ok: false; outcome: EnrollmentOutcome } {
    const parsed = parseCsr(csrPem);
    if (!parsed.ok) {
      return {
        ok: false,
        outcome: refuse(400, 'malformed_csr', `${parsed.error.message}; send an RSA (≥ 2048 bit) CSR`),
      };
    }
    if (!cnNamesMachine(parsed.csr.commonName, machineId, options.cnSuffix)) {
      return {
        ok: false,
        outcome: refuse(
          403,
          'identity_mismatch',
          `the CSR names ${parsed.csr.commonName}, but this request is for ${machineId}; a host may only request its own certificate`,
        ),
      };
    }
    return { ok: true, csr: parsed.csr };
  }

  return {
    async enroll(body) {
      const now = options.clock();
      const request = enrollRequestSchema.safeParse(body);
      if (!request.success) return refuse(400, 'malformed_request', z.prettifyError(request.error));
      const der = csrDer(request.data.csrPem);
      if (der === undefined)
        return refuse(400, 'malformed_csr', 'csrPem holds no decodable CERTIFICATE REQUEST');

      // Readiness before authentication (spec §5.2): an unauthenticated caller learns "not ready", not "bad token".
      const hosts = options.declaredHosts();
      if (hosts === undefined) return NOT_READY_FLEET;
      const ca = options.ca();
      if (ca === undefined) return NOT_READY_CA;
      const keys = options.orgRootKeys.activeKeys(now);
      if (keys.length === 0) {
        return refuse(
          503,
          'not_ready',
          'trust.json has no active orgRootKey; publish one, the token was not consumed',
        );
      }

      const token = await verifyBootstrapToken(request.data.token, {
        keys,
        now,
        rejectBefore: options.orgRootKeys.rejectBefore?.(now),
      });
      if (!token.ok) {
        return token.error.code === 'TokenExpired'
          ? refuse(
              401,
              'token_expired',
              `${token.error.message}; mint a new token with \`nixfleet token mint\``,
            )
          : refuse(401, 'invalid_token', `${token.error.message}; mint a token signed by the org root key`);
      }
      const claims = token.claims;

      const hostKey = declaredKey(hosts, claims.hostname);
      if (!hostKey.ok) return hostKey.outcome;
      const proof = await verifyPossessionProof(request.data.proof, {
        hostKey: hostKey.key.keyObject,
        csrDer: der,
        nonce: claims.nonce,
        now,
      });
      if (!proof.ok) {
        return refuse(
          401,
          'invalid_proof',
          `${proof.error.message}; sign the proof with ${claims.hostname}'s SSH host key, now, over this CSR and the token's nonce`,
        );
      }
      if (hostKey.key.fingerprint !== claims.sshFingerprint) {
        return refuse(
          401,
          'fingerprint_mismatch',
          `the token was minted for SSH key ${claims.sshFingerprint}, but ${claims.hostname} declares ${hostKey.key.fingerprint}; mint a token for the declared key`,
        );
      }
      const csr = checkedCsr(request.data.csrPem, claims.hostname);
      if (!csr.ok) return csr.outcome;

      return issueForHost({
        hostname: claims.hostname,
        csr: csr.csr,
        ca,
        nonce: claims.nonce,
        // Kept as long as the token could be replayed (spec P10), not only 24 h.
        nonceExpiresAt: new Date(claims.exp * 1000),
        now,
        requesterCn: '<enroll>',
        context: `enroll/nonce:${claims.nonce}`,
        replayDetail: 'this bootstrap token was already used; mint a new one for this host',
      });
    },

    async renew(identity, body) {
      const now = options.clock();
      const request = renewRequestSchema.safeParse(body);
      if (!request.success) return refuse(400, 'malformed_request', z.prettifyError(request.error));
      const der = csrDer(request.data.csrPem);
      if (der === undefined)
        return refuse(400, 'malformed_csr', 'csrPem holds no decodable CERTIFICATE REQUEST');

      const hosts = options.declaredHosts();
      if (hosts === undefined) return NOT_READY_FLEET;
      const ca = options.ca();
      if (ca === undefined) return NOT_READY_CA;

      // Everything below is about the verified mTLS identity, never about names in the request (P12).
      const machineId = identity.machineId;
      const hostKey = declaredKey(hosts, machineId);
      if (!hostKey.ok) return hostKey.outcome;
      const proof = await verifyPossessionProof(request.data.proof, {
        hostKey: hostKey.key.keyObject,
        csrDer: der,
        nonce: request.data.nonce,
        now,
      });
      if (!proof.ok) {
        return refuse(
          401,
          'invalid_proof',
          `${proof.error.message}; sign the proof with ${machineId}'s SSH host key, now, over this CSR and the request's nonce`,
        );
      }
      const csr = checkedCsr(request.data.csrPem, machineId);
      if (!csr.ok) return csr.outcome;

      return issueForHost({
        hostname: machineId,
        csr: csr.csr,
        ca,
        nonce: request.data.nonce,
        // A renewal proof is only accepted within the freshness window; after that its nonce is moot.
        nonceExpiresAt: new Date((proof.claims.iat + PROOF_FRESHNESS_SECONDS) * 1000),
        now,
        requesterCn: identity.cn,
        context: `renew/prev:${identity.serial.toLowerCase()}`,
        replayDetail: 'this renewal request was already served; retry with a fresh nonce',
      });
    },
  };
}
