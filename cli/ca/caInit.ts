// `nixfleet ca init --out DIR [--cp-hostname NAME]` (contract §1): the enrollment CA and the CP's
// server certificate, as files the operator moves into place (`--ca-cert/--ca-key`,
// `--tls-cert/--tls-key`, `--client-ca` for the CP; `ca.crt` for every agent).

import { X509Certificate } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { hostname as osHostname } from 'node:os';
import { join } from 'node:path';
import { createCa, issueServerCert } from '../../cp/enrollment/index.ts';
import { hostnameSchema } from '../../proto/common.ts';
import { parseDuration } from '../../proto/duration.ts';

export interface CaInitOptions {
  out: string;
  /** DNS name agents use to reach the CP; default this machine's host name. */
  cpHostname?: string | undefined;
  /** CA lifetime (duration string), default 3650d. */
  caValidity?: string | undefined;
  /** CP server certificate lifetime (duration string), default 397d. */
  certValidity?: string | undefined;
}

export type CliOutcome =
  | { ok: true; stdout: string }
  | { ok: false; exitCode: 1 | 2; code: string; message: string };

export const CA_FILES = { caKey: 'ca.key', caCert: 'ca.crt', cpKey: 'cp.key', cpCert: 'cp.crt' } as const;

const usage = (code: string, message: string): CliOutcome => ({ ok: false, exitCode: 2, code, message });

function duration(
  flag: string,
  value: string,
): { ok: true; ms: number } | { ok: false; outcome: CliOutcome } {
  const parsed = parseDuration(value);
  if (!parsed.ok) return { ok: false, outcome: usage('InvalidDuration', `${flag}: ${parsed.error.message}`) };
  if (parsed.ms < 60_000) return { ok: false, outcome: usage('InvalidDuration', `${flag}: at least 1m`) };
  return parsed;
}

export async function caInit(options: CaInitOptions, now: Date): Promise<CliOutcome> {
  const cpHostname = options.cpHostname ?? osHostname();
  if (isIP(cpHostname) === 0 && !hostnameSchema.safeParse(cpHostname).success) {
    return usage('InvalidHostname', `--cp-hostname: "${cpHostname}" is neither a DNS name nor an IP address`);
  }
  const caValidity = duration('--ca-validity', options.caValidity ?? '3650d');
  if (!caValidity.ok) return caValidity.outcome;
  const certValidity = duration('--cert-validity', options.certValidity ?? '397d');
  if (!certValidity.ok) return certValidity.outcome;

  try {
    await mkdir(options.out, { recursive: true, mode: 0o700 });
  } catch (cause) {
    return usage('OutDirUnusable', `--out ${options.out}: ${errorText(cause)}`);
  }

  const ca = createCa({ commonName: 'nixfleet enrollment CA', validityMs: caValidity.ms, now });
  // Agents reach a local CP as localhost or 127.0.0.1 in demos and tests, so both are always named.
  const names = [...new Set([cpHostname, 'localhost', '127.0.0.1'])];
  const server = issueServerCert({ ca, names, validityMs: certValidity.ms, now });

  const files: [name: string, data: string, mode: number][] = [
    [CA_FILES.caKey, ca.keyPem, 0o600],
    [CA_FILES.caCert, ca.certPem, 0o644],
    [CA_FILES.cpKey, server.keyPem, 0o600],
    [CA_FILES.cpCert, server.certPem, 0o644],
  ];
  for (const [name, data, mode] of files) {
    const path = join(options.out, name);
    try {
      // `wx`: an existing CA is never overwritten; losing ca.key would orphan every enrolled host.
      await writeFile(path, data, { flag: 'wx', mode });
    } catch (cause) {
      if ((cause as NodeJS.ErrnoException).code === 'EEXIST') {
        return usage(
          'FileExists',
          `--out ${options.out}: ${name} already exists; refusing to overwrite a CA (choose another --out)`,
        );
      }
      return { ok: false, exitCode: 1, code: 'WriteFailed', message: `${path}: ${errorText(cause)}` };
    }
  }

  const fingerprint = new X509Certificate(ca.certPem).fingerprint256;
  return {
    ok: true,
    stdout: [
      `CA certificate   ${join(options.out, CA_FILES.caCert)} (SHA-256 ${fingerprint})`,
      `CA key           ${join(options.out, CA_FILES.caKey)} (keep secret: --ca-key of the CP)`,
      `CP certificate   ${join(options.out, CA_FILES.cpCert)} for ${names.join(', ')}`,
      `CP key           ${join(options.out, CA_FILES.cpKey)}`,
      '',
    ].join('\n'),
  };
}

function errorText(cause: unknown): string {
  const e = cause as NodeJS.ErrnoException;
  return e.code === undefined ? String(e.message ?? cause) : `${e.code} ${e.message}`;
}
