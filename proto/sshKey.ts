// OpenSSH ed25519 host keys: the identity a host already has before nixfleet meets it. The fleet
// declares each host's public key in OpenSSH form (`ssh-ed25519 AAAA… comment`, contract §3); the
// agent proves possession with the private key in `/etc/ssh/ssh_host_ed25519_key` (openssh-key-v1).
// Only the unencrypted ed25519 subset is read: host keys are never passphrase-protected.
import { createHash, createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';

const KEY_TYPE = 'ssh-ed25519';
const OPENSSH_MAGIC = Buffer.from('openssh-key-v1\0', 'latin1');
const OPENSSH_PEM = /-----BEGIN OPENSSH PRIVATE KEY-----([\s\S]*?)-----END OPENSSH PRIVATE KEY-----/;

export type SshKeyErrorCode = 'InvalidSshPublicKey' | 'InvalidSshPrivateKey' | 'UnsupportedSshKey';
export interface SshKeyError {
  code: SshKeyErrorCode;
  message: string;
}
type Parsed<T> = { ok: true; key: T } | { ok: false; error: SshKeyError };

export interface SshEd25519PublicKey {
  /** The 32-byte ed25519 point. */
  readonly raw: Buffer;
  /** SSH wire blob: string "ssh-ed25519" ‖ string raw — what fingerprints hash. */
  readonly blob: Buffer;
  /** `SHA256:<unpadded base64>`, exactly as `ssh-keygen -l` prints it. */
  readonly fingerprint: string;
  readonly keyObject: KeyObject;
}

export interface SshEd25519PrivateKey {
  readonly privateKey: KeyObject;
  readonly publicKey: SshEd25519PublicKey;
}

/** A bounds-checked reader of SSH wire strings (RFC 4251 §5): a malformed key is an error value, never a throw. */
class WireReader {
  private offset = 0;
  constructor(private readonly buf: Buffer) {}
  uint32(): number | undefined {
    if (this.offset + 4 > this.buf.length) return undefined;
    const v = this.buf.readUInt32BE(this.offset);
    this.offset += 4;
    return v;
  }
  string(): Buffer | undefined {
    const len = this.uint32();
    if (len === undefined || this.offset + len > this.buf.length) return undefined;
    const v = this.buf.subarray(this.offset, this.offset + len);
    this.offset += len;
    return v;
  }
  get done(): boolean {
    return this.offset === this.buf.length;
  }
}

function wireString(data: Buffer | string): Buffer {
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  const len = Buffer.alloc(4);
  len.writeUInt32BE(bytes.length);
  return Buffer.concat([len, bytes]);
}

const b64url = (b: Buffer): string => b.toString('base64url');

/** `SHA256:` + unpadded standard base64 of SHA-256 over the key blob (OpenSSH's default fingerprint). */
export function sshFingerprint(blob: Buffer): string {
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

function publicFromRaw(raw: Buffer): SshEd25519PublicKey {
  const blob = Buffer.concat([wireString(KEY_TYPE), wireString(raw)]);
  const keyObject = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: b64url(raw) }, format: 'jwk' });
  return { raw, blob, fingerprint: sshFingerprint(blob), keyObject };
}

/** The raw 32-byte point of an ed25519 KeyObject (public or private). */
export function ed25519Raw(key: KeyObject): Buffer {
  const jwk = key.export({ format: 'jwk' });
  if (jwk.crv !== 'Ed25519' || typeof jwk.x !== 'string') throw new TypeError('not an ed25519 key');
  return Buffer.from(jwk.x, 'base64url');
}

/** Reads the public half of an ed25519 KeyObject (public or private) into OpenSSH terms. */
export function sshPublicKeyOf(key: KeyObject): SshEd25519PublicKey {
  return publicFromRaw(ed25519Raw(key));
}

/** Parses one `ssh-ed25519 <base64> [comment]` line (an `authorized_keys`-style options prefix is not accepted). */
export function parseSshPublicKey(text: string): Parsed<SshEd25519PublicKey> {
  if (text.includes('-----BEGIN')) {
    return fail(
      'InvalidSshPublicKey',
      'this is a PEM file (a private key?), not an OpenSSH public key; pass the .pub file',
    );
  }
  const fields = text.trim().split(/\s+/);
  const [type, data] = fields;
  if (type === undefined || data === undefined || !/^[A-Za-z0-9+/]+={0,2}$/.test(data)) {
    return fail('InvalidSshPublicKey', 'expected an OpenSSH public key line: "ssh-ed25519 AAAA… [comment]"');
  }
  if (type !== KEY_TYPE) return fail('UnsupportedSshKey', `key type "${type}" is not ssh-ed25519`);
  const reader = new WireReader(Buffer.from(data, 'base64'));
  const innerType = reader.string();
  const raw = reader.string();
  if (innerType?.toString('latin1') !== KEY_TYPE || raw?.length !== 32 || !reader.done) {
    return fail('InvalidSshPublicKey', 'the base64 key blob is not a well-formed ssh-ed25519 key');
  }
  return { ok: true, key: publicFromRaw(Buffer.from(raw)) };
}

/** `ssh-ed25519 <base64> [comment]`, as `ssh-keygen` writes `.pub` files. */
export function formatSshPublicKey(key: KeyObject, comment?: string): string {
  const { blob } = sshPublicKeyOf(key);
  return `${KEY_TYPE} ${blob.toString('base64')}${comment === undefined ? '' : ` ${comment}`}`;
}

/**
 * Reads an ed25519 private key: the openssh-key-v1 container (`BEGIN OPENSSH PRIVATE KEY`, as
 * sshd's host keys are stored) or PKCS#8 PEM (`BEGIN PRIVATE KEY`).
 */
export function parseSshPrivateKey(text: string): Parsed<SshEd25519PrivateKey> {
  if (text.includes('-----BEGIN PRIVATE KEY-----')) return parsePkcs8(text);
  const pem = OPENSSH_PEM.exec(text);
  if (pem?.[1] === undefined) {
    return fail(
      'InvalidSshPrivateKey',
      'expected an OpenSSH ("BEGIN OPENSSH PRIVATE KEY") or PKCS#8 PEM key',
    );
  }
  const body = Buffer.from(pem[1].replace(/\s+/g, ''), 'base64');
  if (!body.subarray(0, OPENSSH_MAGIC.length).equals(OPENSSH_MAGIC)) {
    return fail('InvalidSshPrivateKey', 'not an openssh-key-v1 container');
  }
  const outer = new WireReader(body.subarray(OPENSSH_MAGIC.length));
  const cipher = outer.string()?.toString('latin1');
  const kdf = outer.string()?.toString('latin1');
  outer.string(); // kdf options: empty when unencrypted
  const count = outer.uint32();
  const publicBlob = outer.string();
  const secret = outer.string();
  if (cipher === undefined || kdf === undefined || publicBlob === undefined || secret === undefined) {
    return fail('InvalidSshPrivateKey', 'truncated openssh-key-v1 container');
  }
  if (cipher !== 'none' || kdf !== 'none') {
    return fail('UnsupportedSshKey', 'the key is passphrase-protected; host keys must be unencrypted');
  }
  if (count !== 1)
    return fail('UnsupportedSshKey', `the container holds ${count} keys; expected exactly one`);
  const inner = new WireReader(secret);
  const check1 = inner.uint32();
  const check2 = inner.uint32();
  const type = inner.string()?.toString('latin1');
  const pub = inner.string();
  const priv = inner.string();
  // Mismatched check words mean a wrong passphrase or corruption (PROTOCOL.key).
  if (check1 === undefined || check1 !== check2 || pub === undefined || priv === undefined) {
    return fail('InvalidSshPrivateKey', 'corrupt private section in the openssh-key-v1 container');
  }
  if (type !== KEY_TYPE) return fail('UnsupportedSshKey', `key type "${type}" is not ssh-ed25519`);
  // OpenSSH stores seed ‖ public (64 bytes); the public copy must agree with both other copies.
  if (pub.length !== 32 || priv.length !== 64 || !priv.subarray(32).equals(pub)) {
    return fail('InvalidSshPrivateKey', 'inconsistent ed25519 key material');
  }
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey({
      key: { kty: 'OKP', crv: 'Ed25519', d: b64url(priv.subarray(0, 32)), x: b64url(Buffer.from(pub)) },
      format: 'jwk',
    });
  } catch {
    return fail('InvalidSshPrivateKey', 'the ed25519 key material does not form a valid key');
  }
  const publicKey = sshPublicKeyOf(privateKey);
  if (!publicKey.raw.equals(pub) || !publicKey.blob.equals(publicBlob)) {
    return fail('InvalidSshPrivateKey', 'the private key does not match its public half');
  }
  return { ok: true, key: { privateKey, publicKey } };
}

function parsePkcs8(text: string): Parsed<SshEd25519PrivateKey> {
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey({ key: text, format: 'pem' });
  } catch {
    return fail('InvalidSshPrivateKey', 'the PKCS#8 PEM does not parse');
  }
  if (privateKey.asymmetricKeyType !== 'ed25519') {
    return fail(
      'UnsupportedSshKey',
      `the PKCS#8 key is ${privateKey.asymmetricKeyType ?? 'unknown'}, not ed25519`,
    );
  }
  return { ok: true, key: { privateKey, publicKey: sshPublicKeyOf(privateKey) } };
}

/**
 * Writes an unencrypted openssh-key-v1 file for an ed25519 key, byte-compatible with `ssh-keygen`
 * (used by the demo's simulated hosts and by tests; production hosts already have theirs).
 */
export function formatSshPrivateKey(privateKey: KeyObject, comment = '', checkWord = 0): string {
  const jwk = privateKey.export({ format: 'jwk' });
  if (jwk.crv !== 'Ed25519' || typeof jwk.d !== 'string' || typeof jwk.x !== 'string') {
    throw new TypeError('not an ed25519 private key');
  }
  const seed = Buffer.from(jwk.d, 'base64url');
  const raw = Buffer.from(jwk.x, 'base64url');
  const blob = Buffer.concat([wireString(KEY_TYPE), wireString(raw)]);
  const check = Buffer.alloc(4);
  check.writeUInt32BE(checkWord >>> 0);
  let secret = Buffer.concat([
    check,
    check,
    wireString(KEY_TYPE),
    wireString(raw),
    wireString(Buffer.concat([seed, raw])),
    wireString(comment),
  ]);
  // Padded to the cipher block size (8 for "none") with 1, 2, 3, … (PROTOCOL.key).
  const pad = (8 - (secret.length % 8)) % 8;
  secret = Buffer.concat([secret, Buffer.from(Array.from({ length: pad }, (_, i) => i + 1))]);
  const one = Buffer.alloc(4);
  one.writeUInt32BE(1);
  const body = Buffer.concat([
    OPENSSH_MAGIC,
    wireString('none'),
    wireString('none'),
    wireString(''),
    one,
    wireString(blob),
    wireString(secret),
  ]);
  const lines = body.toString('base64').match(/.{1,70}/g) ?? [];
  return `-----BEGIN OPENSSH PRIVATE KEY-----\n${lines.join('\n')}\n-----END OPENSSH PRIVATE KEY-----\n`;
}

function fail<T>(code: SshKeyErrorCode, message: string): Parsed<T> {
  return { ok: false, error: { code, message } };
}
