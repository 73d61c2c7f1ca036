// Proof of possession of a host's SSH ed25519 key (issue 4): a compact JWS over the SHA-256 of the
// CSR being submitted, a nonce and a timestamp. Binding the CSR hash means a captured proof cannot
// be replayed with another CSR (another mTLS key); the nonce ties it to one token or one renewal.
import type { KeyObject } from 'node:crypto';
import { z } from 'zod';
import { nonceSchema } from './bootstrapToken.ts';
import { sha256Hex } from './canonicalJson.ts';
import { signEdJws, verifyEdJws } from './edJws.ts';

export const POSSESSION_PROOF_TYP = 'nixfleet-possession+jwt';

/** How far a proof's `iat` may be from the CP's clock, either way (issue 4: ±5 min). */
export const PROOF_FRESHNESS_SECONDS = 300;

export const possessionProofClaimsSchema = z
  .object({
    /** Lowercase hex SHA-256 of the CSR's DER bytes (PEM armour and line breaks do not count). */
    csrSha256: z.string().regex(/^[0-9a-f]{64}$/, 'csrSha256 is 64 lowercase hex characters'),
    nonce: nonceSchema,
    iat: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
  })
  .strict();
export type PossessionProofClaims = z.infer<typeof possessionProofClaimsSchema>;

const CSR_PEM =
  /-----BEGIN (?:NEW )?CERTIFICATE REQUEST-----([A-Za-z0-9+/=\s]+)-----END (?:NEW )?CERTIFICATE REQUEST-----/;

/** The DER bytes inside a PEM CSR, or undefined when there is no CSR block. */
export function csrDer(csrPem: string): Buffer | undefined {
  const body = CSR_PEM.exec(csrPem)?.[1];
  if (body === undefined) return undefined;
  const der = Buffer.from(body.replace(/\s+/g, ''), 'base64');
  return der.length > 0 ? der : undefined;
}

export interface SignPossessionProofOptions {
  /** The host's SSH ed25519 private key. */
  sshKey: KeyObject;
  csrPem: string;
  nonce: string;
  now: Date;
}

export async function signPossessionProof(options: SignPossessionProofOptions): Promise<string> {
  const der = csrDer(options.csrPem);
  if (der === undefined) throw new TypeError('csrPem holds no CERTIFICATE REQUEST block');
  const claims: PossessionProofClaims = possessionProofClaimsSchema.parse({
    csrSha256: sha256Hex(der),
    nonce: options.nonce,
    iat: Math.floor(options.now.getTime() / 1000),
  });
  return signEdJws(POSSESSION_PROOF_TYP, claims, options.sshKey);
}

export type PossessionProofErrorCode =
  | 'ProofMalformed'
  | 'ProofSignatureInvalid'
  | 'ProofCsrMismatch'
  | 'ProofNonceMismatch'
  | 'ProofStale';
export interface PossessionProofError {
  code: PossessionProofErrorCode;
  message: string;
}

export interface VerifyPossessionProofOptions {
  /** The host's declared SSH public key (from the verified fleet, never from the request). */
  hostKey: KeyObject;
  /** DER of the CSR submitted alongside the proof. */
  csrDer: Buffer;
  /** The nonce the proof must carry: the token's on enrollment, the request's on renewal. */
  nonce: string;
  now: Date;
}

export async function verifyPossessionProof(
  proof: string,
  options: VerifyPossessionProofOptions,
): Promise<{ ok: true; claims: PossessionProofClaims } | { ok: false; error: PossessionProofError }> {
  const verified = await verifyEdJws(proof, POSSESSION_PROOF_TYP, [options.hostKey]);
  if (!verified.ok) {
    const code = verified.error.code === 'JwsSignatureInvalid' ? 'ProofSignatureInvalid' : 'ProofMalformed';
    return { ok: false, error: { code, message: verified.error.message } };
  }
  const parsed = possessionProofClaimsSchema.safeParse(verified.payload);
  if (!parsed.success)
    return { ok: false, error: { code: 'ProofMalformed', message: z.prettifyError(parsed.error) } };
  const claims = parsed.data;
  if (claims.csrSha256 !== sha256Hex(options.csrDer)) {
    return { ok: false, error: { code: 'ProofCsrMismatch', message: 'the proof was made for another CSR' } };
  }
  if (claims.nonce !== options.nonce) {
    return { ok: false, error: { code: 'ProofNonceMismatch', message: 'the proof carries another nonce' } };
  }
  const skew = Math.abs(Math.floor(options.now.getTime() / 1000) - claims.iat);
  if (skew > PROOF_FRESHNESS_SECONDS) {
    return {
      ok: false,
      error: {
        code: 'ProofStale',
        message: `the proof is ${skew} s away from the CP's clock (limit ${PROOF_FRESHNESS_SECONDS} s)`,
      },
    };
  }
  return { ok: true, claims };
}
