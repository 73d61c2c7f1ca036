// OpenSSH ed25519 keys (proto/sshKey.ts): byte compatibility with ssh-keygen's files, the
// fingerprint `ssh-keygen -l` prints, and a typed refusal for everything else.
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  formatSshPrivateKey,
  formatSshPublicKey,
  parseSshPrivateKey,
  parseSshPublicKey,
  sshPublicKeyOf,
} from '../../proto/sshKey.ts';
import { FIXTURE_FINGERPRINT, FIXTURES } from './support/world.ts';

const fixture = (name: string) => readFileSync(new URL(name, FIXTURES), 'utf8');
const PRIVATE = fixture('ssh_host_ed25519_key');
const PUBLIC = fixture('ssh_host_ed25519_key.pub');

/** The check word ssh-keygen chose for the fixture (any value is valid; it must just repeat). */
function fixtureCheckWord(): number {
  const body = Buffer.from(PRIVATE.split('\n').slice(1, -2).join(''), 'base64');
  const secretLength = Buffer.from([0, 0, 0, 0x90]);
  return body.readUInt32BE(body.indexOf(secretLength) + 4);
}

describe('OpenSSH ed25519 keys', () => {
  it('reads a key written by ssh-keygen and fingerprints it as `ssh-keygen -l` does', () => {
    const pub = parseSshPublicKey(PUBLIC);
    const priv = parseSshPrivateKey(PRIVATE);
    expect(pub.ok && pub.key.fingerprint).toBe(FIXTURE_FINGERPRINT);
    expect(priv.ok && priv.key.publicKey.fingerprint).toBe(FIXTURE_FINGERPRINT);
    expect(priv.ok && pub.ok && priv.key.publicKey.raw.equals(pub.key.raw)).toBe(true);
  });

  it('writes files byte-identical to ssh-keygen’s', () => {
    const priv = parseSshPrivateKey(PRIVATE);
    if (!priv.ok) throw new Error(priv.error.message);
    expect(formatSshPrivateKey(priv.key.privateKey, 'root@web-01', fixtureCheckWord())).toBe(PRIVATE);
    expect(`${formatSshPublicKey(priv.key.privateKey, 'root@web-01')}\n`).toBe(PUBLIC);
  });

  it('round-trips generated keys through both formats', () => {
    for (let i = 0; i < 20; i++) {
      const { privateKey } = generateKeyPairSync('ed25519');
      const priv = parseSshPrivateKey(formatSshPrivateKey(privateKey, `host-${i}`, i * 7919));
      const pub = parseSshPublicKey(formatSshPublicKey(privateKey));
      expect(priv.ok && pub.ok && priv.key.publicKey.fingerprint === pub.key.fingerprint).toBe(true);
      expect(pub.ok && pub.key.fingerprint).toBe(sshPublicKeyOf(privateKey).fingerprint);
    }
  });

  it('also accepts a PKCS#8 PEM ed25519 private key', () => {
    const { privateKey } = generateKeyPairSync('ed25519');
    const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const parsed = parseSshPrivateKey(pem);
    expect(parsed.ok && parsed.key.publicKey.fingerprint).toBe(sshPublicKeyOf(privateKey).fingerprint);
  });

  it('refuses other public keys with a reason', () => {
    const cases: [string, string][] = [
      ['', 'InvalidSshPublicKey'],
      ['ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQ== me', 'UnsupportedSshKey'],
      ['ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAqw', 'InvalidSshPublicKey'],
      ['ssh-ed25519 !!!', 'InvalidSshPublicKey'],
      [PRIVATE, 'InvalidSshPublicKey'],
      // The type word lies about the blob inside.
      [PUBLIC.replace('AAAAC3', 'AAAAB3'), 'InvalidSshPublicKey'],
    ];
    for (const [text, code] of cases) {
      const parsed = parseSshPublicKey(text);
      expect(parsed.ok ? 'ok' : parsed.error.code, text.slice(0, 40)).toBe(code);
    }
  });

  it('refuses encrypted, non-ed25519, corrupted and foreign private keys', () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey;
    const corruptCheck = (() => {
      const { privateKey } = generateKeyPairSync('ed25519');
      const body = Buffer.from(formatSshPrivateKey(privateKey).split('\n').slice(1, -2).join(''), 'base64');
      const at = body.indexOf(Buffer.from([0, 0, 0, 0x88])) + 4; // secret section, first check word
      body[at] = (body[at] ?? 0) ^ 0xff;
      return `-----BEGIN OPENSSH PRIVATE KEY-----\n${body.toString('base64')}\n-----END OPENSSH PRIVATE KEY-----\n`;
    })();
    const encrypted = (() => {
      const body = Buffer.from(PRIVATE.split('\n').slice(1, -2).join(''), 'base64');
      const none = body.indexOf(Buffer.from('none'));
      const patched = Buffer.concat([
        body.subarray(0, none - 4),
        Buffer.from([0, 0, 0, 10]),
        Buffer.from('aes256-ctr'),
        body.subarray(none + 4),
      ]);
      return `-----BEGIN OPENSSH PRIVATE KEY-----\n${patched.toString('base64')}\n-----END OPENSSH PRIVATE KEY-----\n`;
    })();
    const cases: [string, string][] = [
      ['not a key', 'InvalidSshPrivateKey'],
      [PUBLIC, 'InvalidSshPrivateKey'],
      [rsa.export({ type: 'pkcs8', format: 'pem' }).toString(), 'UnsupportedSshKey'],
      [encrypted, 'UnsupportedSshKey'],
      [corruptCheck, 'InvalidSshPrivateKey'],
      [PRIVATE.replace(/\n[^\n]+\n-----END/, '\n-----END'), 'InvalidSshPrivateKey'],
    ];
    for (const [text, code] of cases) {
      const parsed = parseSshPrivateKey(text);
      expect(parsed.ok ? 'ok' : parsed.error.code, text.slice(0, 60)).toBe(code);
    }
  });
});
