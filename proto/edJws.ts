// Compact JWS with EdDSA (ed25519), the one signature shape the enrollment protocol uses: bootstrap
// tokens (signed by the org root key) and possession proofs (signed by a host's SSH key). Each kind
// carries its own `typ`, so a signature made for one purpose is never accepted for the other.
import { createPublicKey, type KeyObject } from 'node:crypto';
import { CompactSign, compactVerify, decodeProtectedHeader } from 'jose';

export type EdJwsVerifyError =
  | { code: 'JwsMalformed'; message: string }
  | { code: 'JwsWrongType'; message: string }
  | { code: 'JwsSignatureInvalid'; message: string };

export type EdJwsVerified =
  | { ok: true; payload: unknown; keyIndex: number }
  | { ok: false; error: EdJwsVerifyError };

export async function signEdJws(typ: string, payload: unknown, key: KeyObject): Promise<string> {
  if (key.asymmetricKeyType !== 'ed25519' || key.type !== 'private') {
    throw new TypeError('an EdDSA JWS needs an ed25519 private key');
  }
  return new CompactSign(new TextEncoder().encode(JSON.stringify(payload)))
    .setProtectedHeader({ alg: 'EdDSA', typ })
    .sign(key);
}

/**
 * Verifies against each candidate key in order (key rotation: current, previous, successor) and
 * reports which one matched. The payload is returned unparsed: callers validate it with zod.
 */
export async function verifyEdJws(
  jws: string,
  typ: string,
  keys: readonly KeyObject[],
): Promise<EdJwsVerified> {
  let header: ReturnType<typeof decodeProtectedHeader>;
  try {
    header = decodeProtectedHeader(jws);
  } catch {
    return { ok: false, error: { code: 'JwsMalformed', message: 'not a compact JWS' } };
  }
  if (header.typ !== typ) {
    return {
      ok: false,
      error: { code: 'JwsWrongType', message: `expected a "${typ}" JWS, got "${String(header.typ)}"` },
    };
  }
  for (const [keyIndex, key] of keys.entries()) {
    let bytes: Uint8Array;
    try {
      // jose refuses a private key for verification; its public half is what is meant.
      const publicKey = key.type === 'private' ? createPublicKey(key) : key;
      bytes = (await compactVerify(jws, publicKey, { algorithms: ['EdDSA'] })).payload;
    } catch {
      // A wrong key and a corrupt signature look the same from here; try the next key.
      continue;
    }
    try {
      return { ok: true, payload: JSON.parse(new TextDecoder().decode(bytes)) as unknown, keyIndex };
    } catch {
      return { ok: false, error: { code: 'JwsMalformed', message: 'the signed payload is not JSON' } };
    }
  }
  return {
    ok: false,
    error: { code: 'JwsSignatureInvalid', message: 'no trusted key verifies the signature' },
  };
}
