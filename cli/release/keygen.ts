// `nixfleet release keygen --out DIR` (contract §1): a CI release signing key pair, the private key
// as PKCS#8 PEM and the public key as base64 of its raw 32 bytes, ready for trust.json.
import { access, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { generateEd25519KeyPair } from '../../proto/trust/signature.ts';
import { type CliIo, EXIT_OK, parseOptions, report, usage } from './cliIo.ts';
import { writeFileAtomic } from './files.ts';

export const PRIVATE_KEY_FILE = 'release.key';
export const PUBLIC_KEY_FILE = 'release.pub';

const keygenOptionsSchema = z.object({
  out: z.string().min(1, 'is empty'),
  force: z.boolean().optional(),
});

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

export async function releaseKeygen(rawOptions: unknown, io: CliIo): Promise<number> {
  const opts = parseOptions('release keygen', keygenOptionsSchema, rawOptions);
  if (!opts.ok) return report(io, opts.failure);
  const { out, force } = opts.value;
  const privatePath = join(out, PRIVATE_KEY_FILE);
  const publicPath = join(out, PUBLIC_KEY_FILE);
  if (force !== true) {
    // A CI signing key overwritten by accident cannot be recovered; every host would refuse releases.
    for (const path of [privatePath, publicPath]) {
      if (await exists(path)) {
        return report(
          io,
          usage(`nixfleet release keygen: --out ${out}: ${path} already exists (pass --force to replace it)`),
        );
      }
    }
  }
  try {
    await mkdir(out, { recursive: true, mode: 0o700 });
  } catch (err) {
    return report(
      io,
      usage(`nixfleet release keygen: --out ${out}: ${err instanceof Error ? err.message : String(err)}`),
    );
  }
  const pair = generateEd25519KeyPair();
  await writeFileAtomic(privatePath, pair.privateKeyPem, 0o600);
  await writeFileAtomic(publicPath, `${pair.publicKeyBase64}\n`);
  io.out(`wrote ${privatePath} (ed25519, PKCS#8 PEM: keep it secret, give it to CI as --sign-key)`);
  io.out(`wrote ${publicPath} (base64 of the raw 32-byte public key)`);
  io.out(
    `trust.json ciReleaseKey.current: ${JSON.stringify({ algorithm: 'ed25519', public: pair.publicKeyBase64 })}`,
  );
  return EXIT_OK;
}
