// Wire schemas of enrollment and renewal (spec §5.8-5.9, issue 4): what the agent posts and what
// the CP answers, including the error vocabulary. Bodies are strict: an unknown field is a 400, so
// a client and a server that disagree about the protocol find out at once.
import { z } from 'zod';
import { nonceSchema } from './bootstrapToken.ts';
import { timestampSchema } from './common.ts';

/** Generous bound on a PEM CSR (an RSA-4096 CSR is ~1.7 kB): refuses absurd bodies before parsing. */
const csrPemSchema = z
  .string()
  .max(16_384)
  .regex(/-----BEGIN (?:NEW )?CERTIFICATE REQUEST-----/, 'csrPem must be a PEM "CERTIFICATE REQUEST"');
const compactJwsSchema = z
  .string()
  .max(8_192)
  .regex(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/, 'expected a compact JWS');

/** `POST /v1/enroll` (anonymous). */
export const enrollRequestSchema = z
  .object({
    /** The bootstrap token minted by `nixfleet token mint`. */
    token: compactJwsSchema,
    /** CSR for a fresh mTLS key, CN = the host name. */
    csrPem: csrPemSchema,
    /** Possession proof by the host's SSH key over this CSR and the token's nonce. */
    proof: compactJwsSchema,
  })
  .strict();
export type EnrollRequest = z.infer<typeof enrollRequestSchema>;

/** `POST /v1/agent/renew` (mTLS). The nonce is the agent's own; the CP consumes it like a token's. */
export const renewRequestSchema = z
  .object({
    csrPem: csrPemSchema,
    nonce: nonceSchema,
    proof: compactJwsSchema,
  })
  .strict();
export type RenewRequest = z.infer<typeof renewRequestSchema>;

/** Answer to both enrollment and renewal. */
export const certificateResponseSchema = z
  .object({
    certPem: z.string().min(1),
    notAfter: timestampSchema,
  })
  .strict();
export type CertificateResponse = z.infer<typeof certificateResponseSchema>;

export const ENROLLMENT_ERROR_CODES = [
  'malformed_request',
  'malformed_csr',
  'invalid_token',
  'token_expired',
  'host_not_declared',
  'invalid_proof',
  'fingerprint_mismatch',
  'identity_mismatch',
  'nonce_replayed',
  'not_ready',
  'unauthenticated',
  'revoked',
  'internal',
] as const;
export const enrollmentErrorCodeSchema = z.enum(ENROLLMENT_ERROR_CODES);
export type EnrollmentErrorCode = z.infer<typeof enrollmentErrorCodeSchema>;

/** Every error body (contract §4): a stable code and a sentence telling the operator what to do. */
export const errorBodySchema = z.object({ error: z.string().min(1), detail: z.string() });
export type ErrorBody = z.infer<typeof errorBodySchema>;
