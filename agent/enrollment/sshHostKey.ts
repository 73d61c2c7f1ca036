// Reads the host's SSH ed25519 key (`--ssh-host-key-file`, default /etc/ssh/ssh_host_ed25519_key).
import { readFile } from 'node:fs/promises';
import { parseSshPrivateKey, type SshEd25519PrivateKey } from '../../proto/sshKey.ts';

export type LoadSshHostKeyResult =
  | { ok: true; key: SshEd25519PrivateKey }
  | {
      ok: false;
      error: { code: 'SshHostKeyUnreadable' | 'SshHostKeyInvalid'; path: string; message: string };
    };

export async function loadSshHostKey(path: string): Promise<LoadSshHostKeyResult> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (cause) {
    const message = cause instanceof Error ? cause.message : String(cause);
    return { ok: false, error: { code: 'SshHostKeyUnreadable', path, message } };
  }
  const parsed = parseSshPrivateKey(text);
  if (!parsed.ok)
    return { ok: false, error: { code: 'SshHostKeyInvalid', path, message: parsed.error.message } };
  return { ok: true, key: parsed.key };
}
