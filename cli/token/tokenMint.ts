// `nixfleet token mint --host NAME --org-key KEY --ssh-pubkey FILE [--ttl 1h]` (contract §1): a
// bootstrap token for one host's first boot, printed on stdout so it can be piped into the host's
// `--bootstrap-token-file`.
import { createPrivateKey, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { mintBootstrapToken } from '../../proto/bootstrapToken.ts';
import { hostnameSchema } from '../../proto/common.ts';
import { parseDuration } from '../../proto/duration.ts';
import { parseSshPublicKey } from '../../proto/sshKey.ts';

export interface TokenMintOptions {
  host: string;
  /** The org root key, PKCS#8 PEM ed25519 (as `release keygen` writes it). */
  orgKey: string;
  /** The host's SSH public key file, `ssh-ed25519 AAAA…` (e.g. /etc/ssh/ssh_host_ed25519_key.pub). */
  sshPubkey: string;
  /** Token lifetime, default 1h. */
  ttl?: string | undefined;
  /** Print `{token, hostname, nonce, sshFingerprint, expiresAt}` instead of the bare token. */
  json?: boolean | undefined;
}

export type CliOutcome =
  | { ok: true; stdout: string }
  | { ok: false; exitCode: 1 | 2; code: string; message: string };

/** A token is a credential: keep it short-lived. An operator pre-provisioning for a month can re-mint. */
export const MAX_TOKEN_TTL_MS = 30 * 86_400_000;

const usage = (code: string, message: string): CliOutcome => ({ ok: false, exitCode: 2, code, message });

async function readInput(
  flag: string,
  path: string,
): Promise<{ ok: true; text: string } | { ok: false; outcome: CliOutcome }> {
  try {
    return { ok: true, text: await readFile(path, 'utf8') };
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT'
        ? 'no such file'
        : code === 'EISDIR'
          ? 'is a directory'
          : `cannot be read (${code ?? 'error'})`;
    return { ok: false, outcome: usage('FileUnreadable', `${flag} ${path}: ${why}`) };
  }
}

export async function tokenMint(options: TokenMintOptions, now: Date): Promise<CliOutcome> {
  const host = hostnameSchema.safeParse(options.host);
  if (!host.success) return usage('InvalidHostname', `--host: "${options.host}" is not a valid host name`);

  const ttlText = options.ttl ?? '1h';
  const ttl = parseDuration(ttlText);
  if (!ttl.ok) return usage('InvalidDuration', `--ttl: ${ttl.error.message}`);
  if (ttl.ms < 1_000 || ttl.ms > MAX_TOKEN_TTL_MS) {
    return usage('InvalidDuration', `--ttl: "${ttlText}" must be between 1s and 30d`);
  }

  const orgKeyText = await readInput('--org-key', options.orgKey);
  if (!orgKeyText.ok) return orgKeyText.outcome;
  let orgKey: KeyObject;
  try {
    orgKey = createPrivateKey({ key: orgKeyText.text, format: 'pem' });
  } catch {
    return usage(
      'InvalidOrgKey',
      `--org-key ${options.orgKey}: not a PEM private key (expected PKCS#8 ed25519)`,
    );
  }
  if (orgKey.asymmetricKeyType !== 'ed25519') {
    return usage(
      'InvalidOrgKey',
      `--org-key ${options.orgKey}: holds a ${orgKey.asymmetricKeyType ?? 'non-ed25519'} key, but the org root key must be ed25519`,
    );
  }

  const pubText = await readInput('--ssh-pubkey', options.sshPubkey);
  if (!pubText.ok) return pubText.outcome;
  const sshKey = parseSshPublicKey(pubText.text);
  if (!sshKey.ok)
    return usage('InvalidSshPubkey', `--ssh-pubkey ${options.sshPubkey}: ${sshKey.error.message}`);

  const { token, claims } = await mintBootstrapToken({
    hostname: host.data,
    sshFingerprint: sshKey.key.fingerprint,
    orgKey,
    ttlMs: ttl.ms,
    now,
  });
  if (options.json === true) {
    const out = {
      token,
      hostname: claims.hostname,
      nonce: claims.nonce,
      sshFingerprint: claims.sshFingerprint,
      expiresAt: new Date(claims.exp * 1000).toISOString(),
    };
    return { ok: true, stdout: `${JSON.stringify(out)}\n` };
  }
  return { ok: true, stdout: `${token}\n` };
}
