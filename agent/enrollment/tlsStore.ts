// `<stateDir>/tls/` (contract §3): the enrolled key and certificate. Each file is replaced
// atomically (tmp → fsync → rename) and the key is written first, so a crash leaves either the old
// pair or a new key beside the old certificate; `readTlsIdentity` refuses a pair that does not match,
// and the agent then renews or re-enrolls instead of presenting a broken identity.
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { mkdir, open, readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import type { TlsIdentity } from './client.ts';

export const TLS_KEY_FILE = 'client.key';
export const TLS_CERT_FILE = 'client.crt';

async function writeAtomic(path: string, data: string, mode: number): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}`;
  const handle = await open(tmp, 'w', mode);
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(tmp, path);
}

export async function writeTlsIdentity(
  stateDir: string,
  identity: Pick<TlsIdentity, 'keyPem' | 'certPem'>,
): Promise<void> {
  const dir = join(stateDir, 'tls');
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await writeAtomic(join(dir, TLS_KEY_FILE), identity.keyPem, 0o600);
  await writeAtomic(join(dir, TLS_CERT_FILE), identity.certPem, 0o644);
  // The renames are durable only once the directory entry is.
  const dirHandle = await open(dir, 'r');
  try {
    await dirHandle.sync();
  } finally {
    await dirHandle.close();
  }
}

/** The stored pair, or undefined when absent, unreadable or mismatched. */
export async function readTlsIdentity(stateDir: string): Promise<TlsIdentity | undefined> {
  const dir = join(stateDir, 'tls');
  try {
    const [keyPem, certPem] = await Promise.all([
      readFile(join(dir, TLS_KEY_FILE), 'utf8'),
      readFile(join(dir, TLS_CERT_FILE), 'utf8'),
    ]);
    const cert = new X509Certificate(certPem);
    if (!cert.checkPrivateKey(createPrivateKey(keyPem))) return undefined;
    return { keyPem, certPem, notAfter: new Date(cert.validTo) };
  } catch {
    return undefined;
  }
}

/**
 * Spec §6.14: renew once the remaining fraction of the certificate's lifetime falls below
 * `threshold` (`--renewal-threshold`, default 0.5).
 */
export function renewalDue(certPem: string, now: Date, threshold: number): boolean {
  const cert = new X509Certificate(certPem);
  const from = new Date(cert.validFrom).getTime();
  const to = new Date(cert.validTo).getTime();
  const total = to - from;
  if (!(total > 0)) return true;
  return (to - now.getTime()) / total < threshold;
}
