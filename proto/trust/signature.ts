// Raw detached signatures over canonical bytes (spec §1.9, §11.2): ed25519 R‖S verified strictly,
// ecdsa-p256 r‖s over SHA-256 with high-S normalised. Keys and signatures that cannot be used are
// "no match", never an exception: a broken trust entry must not hide a valid one behind it.
import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  sign,
  verify,
} from 'node:crypto';
import { canonicalJsonBytes } from '../canonicalJson.ts';
import { ed25519Raw } from '../sshKey.ts';
import type { PubKey } from './trustFile.ts';

export const SIGNATURE_BYTES = 64;
export const SUPPORTED_ALGORITHMS = ['ed25519', 'ecdsa-p256'] as const;

const P = 2n ** 255n - 19n;
/** Order of the ed25519 base point. */
const L = 2n ** 252n + 27742317777372353535851937790883648493n;
/** Order of the P-256 group. */
const P256_N = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;

function littleEndian(bytes: Uint8Array): bigint {
  let n = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(bytes[i] ?? 0);
  return n;
}

function bigEndian(bytes: Uint8Array): bigint {
  let n = 0n;
  for (const b of bytes) n = (n << 8n) | BigInt(b);
  return n;
}

// y-coordinates of the eight points of order dividing 8: the identity (1), order 2 (-1), order 4
// (0) and the order-8 pair (±Y8). Any encoding whose y is one of these is a small-order point.
const Y8 = littleEndian(
  Buffer.from('c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a', 'hex'),
);
const SMALL_ORDER_Y = new Set([0n, 1n, P - 1n, Y8, P - Y8]);

/**
 * The point encodings `verify_strict` refuses and RFC 8032 cofactorless verification (OpenSSL's)
 * may accept: non-canonical y (≥ p) and small-order points, with which `S = 0` "signs" anything.
 */
function isWeakPointEncoding(encoded: Uint8Array): boolean {
  const y = littleEndian(encoded) & ((1n << 255n) - 1n);
  return y >= P || SMALL_ORDER_Y.has(y);
}

function ed25519KeyObject(raw: Uint8Array): KeyObject {
  return createPublicKey({
    key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(raw).toString('base64url') },
    format: 'jwk',
  });
}

/** Strict ed25519 verification (the `verify_strict` of spec §1.9). */
export function verifyEd25519(message: Uint8Array, signature: Uint8Array, rawPublicKey: Uint8Array): boolean {
  if (signature.length !== SIGNATURE_BYTES || rawPublicKey.length !== 32) return false;
  const r = signature.subarray(0, 32);
  const s = signature.subarray(32);
  // S ≥ L is the malleated twin of a valid signature (S + L verifies under the loose equation).
  if (littleEndian(s) >= L) return false;
  if (isWeakPointEncoding(rawPublicKey) || isWeakPointEncoding(r)) return false;
  try {
    return verify(null, message, ed25519KeyObject(rawPublicKey), signature);
  } catch {
    return false;
  }
}

/** ecdsa-p256 over SHA-256, raw r‖s; a high S is folded to low S first, as the original does. */
export function verifyEcdsaP256(message: Uint8Array, signature: Uint8Array, rawXY: Uint8Array): boolean {
  if (signature.length !== SIGNATURE_BYTES || rawXY.length !== 64) return false;
  let s = bigEndian(signature.subarray(32));
  if (s > P256_N / 2n) s = P256_N - s;
  const normalised = Buffer.concat([
    signature.subarray(0, 32),
    Buffer.from(s.toString(16).padStart(64, '0'), 'hex'),
  ]);
  try {
    const key = createPublicKey({
      key: {
        kty: 'EC',
        crv: 'P-256',
        x: Buffer.from(rawXY.subarray(0, 32)).toString('base64url'),
        y: Buffer.from(rawXY.subarray(32)).toString('base64url'),
      },
      format: 'jwk',
    });
    return verify('sha256', message, { key, dsaEncoding: 'ieee-p1363' }, normalised);
  } catch {
    return false;
  }
}

function decodeBase64(text: string, bytes: number): Uint8Array | null {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 !== 0) return null;
  const raw = Buffer.from(text, 'base64');
  return raw.length === bytes ? new Uint8Array(raw) : null;
}

export type SignatureCheck =
  | { ok: true; key: PubKey; keyIndex: number }
  | { ok: false; code: 'unsupported-algorithm' | 'untrusted-signature'; detail: string };

/**
 * Step 4 of spec §1.11: try each key in order, skipping unsupported algorithms; the first match
 * wins. An undecodable `public` is a non-matching key. The artifact's `signatureAlgorithm` is not
 * consulted: a key of either algorithm may match.
 */
export function checkSignature(
  message: Uint8Array,
  signature: Uint8Array,
  keys: readonly PubKey[],
): SignatureCheck {
  const unsupported: string[] = [];
  let tried = 0;
  for (const [keyIndex, key] of keys.entries()) {
    if (key.algorithm === 'ed25519') {
      tried++;
      const raw = decodeBase64(key.public, 32);
      if (raw !== null && verifyEd25519(message, signature, raw)) return { ok: true, key, keyIndex };
    } else if (key.algorithm === 'ecdsa-p256') {
      tried++;
      const raw = decodeBase64(key.public, 64);
      if (raw !== null && verifyEcdsaP256(message, signature, raw)) return { ok: true, key, keyIndex };
    } else unsupported.push(key.algorithm);
  }
  if (tried === 0) {
    return {
      ok: false,
      code: 'unsupported-algorithm',
      detail: `no trusted key has a supported algorithm (found ${unsupported.map((a) => JSON.stringify(a)).join(', ')})`,
    };
  }
  const size =
    signature.length === SIGNATURE_BYTES ? '' : ` (signature has ${signature.length} bytes, not 64)`;
  return {
    ok: false,
    code: 'untrusted-signature',
    detail: `signature does not verify against any of the ${tried} trusted key(s)${size}`,
  };
}

/** Raw 64-byte ed25519 signature of `canonicalBytes` (pass `canonicalJsonBytes(value)`). */
export function signArtifact(canonicalBytes: Uint8Array, privateKey: KeyObject): Uint8Array {
  if (privateKey.asymmetricKeyType !== 'ed25519') {
    throw new Error(`release signing keys are ed25519, not ${privateKey.asymmetricKeyType ?? 'unknown'}`);
  }
  return new Uint8Array(sign(null, canonicalBytes, privateKey));
}

/** Canonicalizes `value` (RFC 8785) and signs it: the bytes to write and their `.sig`. */
export function signJson(
  value: unknown,
  privateKey: KeyObject,
): { bytes: Uint8Array; signature: Uint8Array } {
  const bytes = canonicalJsonBytes(value);
  return { bytes, signature: signArtifact(bytes, privateKey) };
}

/** Reads an ed25519 private key from PKCS#8 PEM; `null` when the text is not one. */
export function parseEd25519PrivateKeyPem(pem: string): KeyObject | null {
  try {
    const key = createPrivateKey({ key: pem, format: 'pem' });
    return key.asymmetricKeyType === 'ed25519' ? key : null;
  } catch {
    return null;
  }
}

/** A fresh release key pair: PKCS#8 PEM private key and base64 raw 32-byte public key (contract §1). */
export function generateEd25519KeyPair(): {
  privateKey: KeyObject;
  privateKeyPem: string;
  publicKeyBase64: string;
} {
  const { privateKey } = generateKeyPairSync('ed25519');
  const privateKeyPem = privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
  return {
    privateKey,
    privateKeyPem,
    publicKeyBase64: ed25519Raw(privateKey).toString('base64'),
  };
}
