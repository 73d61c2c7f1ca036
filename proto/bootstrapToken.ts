// Bootstrap token: the one-time credential an operator mints for a host's first boot (spec §1.15,
// issue 4). A compact JWS (EdDSA) signed by the org root key; the CP accepts it once (nonce) for the
// named host, and only together with a proof made by that host's declared SSH key.
import { type KeyObject, randomBytes } from 'node:crypto';
import { z } from 'zod';
import { hostnameSchema } from './common.ts';
import { signEdJws, verifyEdJws } from './edJws.ts';

/** JWS `typ` of a bootstrap token; a possession proof (another `typ`) is never taken for one. */
export const BOOTSTRAP_TOKEN_TYP = 'nixfleet-bootstrap+jwt';

/** Tolerated clock skew between the minting machine and the CP for `iat` in the future (spec §1.11's 60 s). */
export const TOKEN_CLOCK_SKEW_SECONDS = 60;

/** `SHA256:<43 chars of unpadded base64>`, the `ssh-keygen -l` rendering. */
export const sshFingerprintSchema = z
  .string()
  .regex(/^SHA256:[A-Za-z0-9+/]{43}$/, 'an OpenSSH SHA256 fingerprint ("SHA256:…", 43 base64 chars)');

/** 16 random bytes, lowercase hex (spec §1.15). */
export const nonceSchema = z.string().regex(/^[0-9a-f]{32}$/, 'a nonce is 32 lowercase hex characters');

const unixSeconds = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);

export const bootstrapTokenClaimsSchema = z
  .object({
    /** Claims format version; anything but 1 is refused like a bad signature (spec §1.15). */
    v: z.literal(1),
    hostname: hostnameSchema,
    nonce: nonceSchema,
    /** Fingerprint of the host's SSH ed25519 public key, so a token cannot travel to another host. */
    sshFingerprint: sshFingerprintSchema,
    iat: unixSeconds,
    exp: unixSeconds,
  })
  .strict()
  .refine((c) => c.exp > c.iat, { message: 'exp must be after iat', path: ['exp'] });
export type BootstrapTokenClaims = z.infer<typeof bootstrapTokenClaimsSchema>;

export interface MintBootstrapTokenOptions {
  hostname: string;
  /** `SHA256:…` fingerprint of the host's SSH ed25519 key (see `proto/sshKey.ts`). */
  sshFingerprint: string;
  /** The org root key: ed25519, private. */
  orgKey: KeyObject;
  /** Lifetime in milliseconds; rounded down to whole seconds, at least one second. */
  ttlMs: number;
  now: Date;
  /** Fixed nonce for reproducible tests; random (16 bytes) otherwise. */
  nonce?: string;
}

export async function mintBootstrapToken(
  options: MintBootstrapTokenOptions,
): Promise<{ token: string; claims: BootstrapTokenClaims }> {
  const iat = Math.floor(options.now.getTime() / 1000);
  const claims = bootstrapTokenClaimsSchema.parse({
    v: 1,
    hostname: options.hostname,
    nonce: options.nonce ?? randomBytes(16).toString('hex'),
    sshFingerprint: options.sshFingerprint,
    iat,
    exp: iat + Math.max(1, Math.floor(options.ttlMs / 1000)),
  });
  return { token: await signEdJws(BOOTSTRAP_TOKEN_TYP, claims, options.orgKey), claims };
}

export type BootstrapTokenErrorCode =
  | 'TokenMalformed'
  | 'TokenSignatureInvalid'
  | 'TokenClaimsInvalid'
  | 'TokenExpired'
  | 'TokenNotYetValid'
  | 'TokenSignedBeforeRejectBefore';
export interface BootstrapTokenError {
  code: BootstrapTokenErrorCode;
  message: string;
}
export type BootstrapTokenVerified =
  | { ok: true; claims: BootstrapTokenClaims }
  | { ok: false; error: BootstrapTokenError };

export interface VerifyBootstrapTokenOptions {
  /** The org root key's active keys at `now` (spec §1.13: current, previous, successor). */
  keys: readonly KeyObject[];
  now: Date;
  /** The org root slot's `rejectBefore`: tokens issued before it are refused although validly signed. */
  rejectBefore?: Date | undefined;
}

/** Signature first, then the claims and their time window: an unsigned token never gets a timing answer. */
export async function verifyBootstrapToken(
  token: string,
  options: VerifyBootstrapTokenOptions,
): Promise<BootstrapTokenVerified> {
  const verified = await verifyEdJws(token, BOOTSTRAP_TOKEN_TYP, options.keys);
  if (!verified.ok) {
    const code = verified.error.code === 'JwsSignatureInvalid' ? 'TokenSignatureInvalid' : 'TokenMalformed';
    return { ok: false, error: { code, message: verified.error.message } };
  }
  const parsed = bootstrapTokenClaimsSchema.safeParse(verified.payload);
  if (!parsed.success) {
    return { ok: false, error: { code: 'TokenClaimsInvalid', message: z.prettifyError(parsed.error) } };
  }
  const claims = parsed.data;
  const now = Math.floor(options.now.getTime() / 1000);
  if (options.rejectBefore !== undefined && claims.iat * 1000 < options.rejectBefore.getTime()) {
    return {
      ok: false,
      error: {
        code: 'TokenSignedBeforeRejectBefore',
        message: 'the token predates the org key’s rejectBefore',
      },
    };
  }
  if (claims.iat > now + TOKEN_CLOCK_SKEW_SECONDS) {
    return { ok: false, error: { code: 'TokenNotYetValid', message: 'the token is issued in the future' } };
  }
  // Spec §5.8 step 4: issuedAt ≤ now < expiresAt; the expiry instant itself is already too late.
  if (now >= claims.exp) {
    return {
      ok: false,
      error: {
        code: 'TokenExpired',
        message: `the token expired at ${new Date(claims.exp * 1000).toISOString()}`,
      },
    };
  }
  return { ok: true, claims };
}

/**
 * The claims of a token WITHOUT checking its signature: for the agent, which needs the hostname and
 * nonce to build its request and trusts nothing else in it (the CP verifies the token).
 */
export function readBootstrapTokenClaimsUnverified(
  token: string,
): { ok: true; claims: BootstrapTokenClaims } | { ok: false; message: string } {
  const payload = token.trim().split('.')[1];
  if (payload === undefined) return { ok: false, message: 'not a compact JWS (header.payload.signature)' };
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
  } catch {
    return { ok: false, message: 'the token payload is not base64url JSON' };
  }
  const parsed = bootstrapTokenClaimsSchema.safeParse(json);
  return parsed.success
    ? { ok: true, claims: parsed.data }
    : { ok: false, message: `the token claims are invalid: ${z.prettifyError(parsed.error)}` };
}
