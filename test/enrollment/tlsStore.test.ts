// The agent's `<stateDir>/tls/` (agent/enrollment/tlsStore.ts) and the renewal threshold (spec §6.14).
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createMtlsKeyAndCsr,
  readTlsIdentity,
  renewalDue,
  writeTlsIdentity,
} from '../../agent/enrollment/index.ts';
import { createCa, issueClientCert, parseCsr } from '../../cp/enrollment/index.ts';

const NOW = new Date();
const ca = createCa({ commonName: 'ca', validityMs: 86_400_000, now: NOW, modulusLength: 2048 });

function issued(validityMs: number) {
  const { keyPem, csrPem } = createMtlsKeyAndCsr('web-01');
  const parsed = parseCsr(csrPem);
  if (!parsed.ok) throw new Error(parsed.error.message);
  return { keyPem, ...issueClientCert(parsed.csr, { ca, cn: 'agent-web-01', validityMs, now: NOW }) };
}

describe('agent TLS identity store', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'nixfleet-tls-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('writes the key 0600 and reads back the pair; a mismatched pair reads as absent', async () => {
    expect(await readTlsIdentity(dir)).toBeUndefined();
    const first = issued(3_600_000);
    await writeTlsIdentity(dir, first);
    expect((await stat(join(dir, 'tls', 'client.key'))).mode & 0o777).toBe(0o600);
    expect(await readTlsIdentity(dir)).toMatchObject({ keyPem: first.keyPem, certPem: first.certPem });
    const second = issued(3_600_000);
    await writeFile(join(dir, 'tls', 'client.key'), second.keyPem);
    expect(await readTlsIdentity(dir)).toBeUndefined();
  });

  it('asks for renewal once less than the threshold of the lifetime remains', () => {
    const { certPem } = issued(3_600_000);
    const at = (ms: number) => new Date(Math.floor(NOW.getTime() / 1000) * 1000 + ms);
    expect(renewalDue(certPem, at(0), 0.5)).toBe(false);
    expect(renewalDue(certPem, at(1_799_000), 0.5)).toBe(false);
    expect(renewalDue(certPem, at(1_801_000), 0.5)).toBe(true);
    expect(renewalDue(certPem, at(4_000_000), 0.5)).toBe(true);
  });
});
