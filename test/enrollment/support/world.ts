// A small fleet for enrollment tests: a CA (RSA 2048 so keygen stays fast), a CP server
// certificate for 127.0.0.1, an org root key (current + previous), hosts with SSH ed25519 keys,
// and a real HTTPS server with client-certificate verification on loopback.
import { createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import {
  createCa,
  createDbIssuanceStore,
  createEnrollmentRoutes,
  createEnrollmentService,
  type EnrollmentCa,
  type EnrollmentServiceOptions,
  issueServerCert,
  staticDeclaredHosts,
  staticOrgRootKeys,
} from '../../../cp/enrollment/index.ts';
import {
  createDbRevocationLookup,
  createIdentityMiddleware,
  hostMismatch,
  type IdentityEnv,
  requirePathHost,
} from '../../../cp/identity/index.ts';
import type { Database } from '../../../db/index.ts';
import { mintBootstrapToken } from '../../../proto/bootstrapToken.ts';
import { formatSshPublicKey, parseSshPrivateKey, sshPublicKeyOf } from '../../../proto/sshKey.ts';

export const FIXTURES = new URL('../fixtures/', import.meta.url);

/** The fixture key was made by `ssh-keygen -t ed25519 -C root@web-01`; this is what `ssh-keygen -l` printed. */
export const FIXTURE_FINGERPRINT = 'SHA256:n+rIWmaSiAI+kp/a27v70ocuAdSyCjW49UzkPvgOmsY';

export function fixtureHostKey(): KeyObject {
  const parsed = parseSshPrivateKey(readFileSync(new URL('ssh_host_ed25519_key', FIXTURES), 'utf8'));
  if (!parsed.ok) throw new Error(parsed.error.message);
  return parsed.key.privateKey;
}

export const ed25519 = (): KeyObject => generateKeyPairSync('ed25519').privateKey;

export interface Host {
  readonly name: string;
  readonly sshKey: KeyObject;
  readonly fingerprint: string;
}

export function host(name: string, sshKey: KeyObject = ed25519()): Host {
  return { name, sshKey, fingerprint: sshPublicKeyOf(sshKey).fingerprint };
}

export interface Pki {
  readonly ca: EnrollmentCa;
  readonly server: { keyPem: string; certPem: string };
  /** The org root key now in `current`, and the one it replaced (still in `previous`). */
  readonly orgKey: KeyObject;
  readonly previousOrgKey: KeyObject;
}

export function createPki(now = new Date()): Pki {
  const ca = createCa({ commonName: 'test enrollment CA', validityMs: 86_400_000, now, modulusLength: 2048 });
  const server = issueServerCert({ ca, names: ['localhost', '127.0.0.1'], validityMs: 86_400_000, now });
  return { ca, server, orgKey: ed25519(), previousOrgKey: ed25519() };
}

export interface MintOptions {
  host: string;
  fingerprint: string;
  orgKey: KeyObject;
  now?: Date;
  ttlMs?: number;
}

export async function mint(options: MintOptions): Promise<{ token: string; nonce: string; exp: number }> {
  const { token, claims } = await mintBootstrapToken({
    hostname: options.host,
    sshFingerprint: options.fingerprint,
    orgKey: options.orgKey,
    ttlMs: options.ttlMs ?? 3_600_000,
    now: options.now ?? new Date(),
  });
  return { token, nonce: claims.nonce, exp: claims.exp };
}

/** A CP clock the tests can move: real time plus an offset (TLS checks validity on the real clock). */
export class TestClock {
  offsetMs = 0;
  readonly now = (): Date => new Date(Date.now() + this.offsetMs);
}

export interface TestCp {
  readonly url: string;
  readonly clock: TestClock;
  /** Swap what the CP has loaded, to exercise readiness. */
  readonly state: { hosts: boolean; ca: EnrollmentCa | undefined };
  readonly errors: unknown[];
  close(): Promise<void>;
}

export interface StartCpOptions {
  db: Database;
  pki: Pki;
  hosts: readonly Host[];
  overrides?: Partial<EnrollmentServiceOptions>;
}

/**
 * The enrollment routes plus three stand-in mTLS routes exercising the identity middleware: one
 * naming the host in the body, one in the path, one naming nobody.
 */
export async function startCp(options: StartCpOptions): Promise<TestCp> {
  const clock = new TestClock();
  const state: TestCp['state'] = { hosts: true, ca: options.pki.ca };
  const declared = staticDeclaredHosts(
    Object.fromEntries(options.hosts.map((h) => [h.name, formatSshPublicKey(h.sshKey, `root@${h.name}`)])),
  );
  const service = createEnrollmentService({
    store: createDbIssuanceStore(options.db),
    declaredHosts: () => (state.hosts ? declared : undefined),
    orgRootKeys: staticOrgRootKeys([
      createPublicKey(options.pki.orgKey),
      createPublicKey(options.pki.previousOrgKey),
    ]),
    ca: () => state.ca,
    agentCertValidityMs: 3_600_000,
    clock: clock.now,
    ...options.overrides,
  });
  const requireIdentity = createIdentityMiddleware({ revocations: createDbRevocationLookup(options.db) });
  const errors: unknown[] = [];
  const app = new Hono<IdentityEnv>();
  app.route('/', createEnrollmentRoutes({ service, requireIdentity, onError: (e) => errors.push(e) }));
  app.get('/v1/whoami', requireIdentity, (c) => {
    const { cn, machineId } = c.get('identity');
    return c.json({ cn, machineId });
  });
  app.post('/v1/agent/heartbeat', requireIdentity, async (c) => {
    const body = (await c.req.json()) as { hostname: string };
    return hostMismatch(c, body.hostname) ?? c.json({ ok: true });
  });
  app.get('/v1/hosts/:host/trace', requireIdentity, requirePathHost('host'), (c) =>
    c.json({ host: c.req.param('host') }),
  );

  const server = await new Promise<ReturnType<typeof serve>>((resolve) => {
    const s = serve(
      {
        fetch: app.fetch,
        hostname: '127.0.0.1',
        port: 0,
        createServer,
        serverOptions: {
          key: options.pki.server.keyPem,
          cert: options.pki.server.certPem,
          ca: options.pki.ca.certPem,
          requestCert: true,
          // Anonymous `/v1/enroll` shares the port; the identity middleware enforces `authorized`.
          rejectUnauthorized: false,
        },
      },
      () => resolve(s),
    );
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `https://127.0.0.1:${port}`,
    clock,
    state,
    errors,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        // Keep-alive sockets would hold close() open; the clients here use `agent: false`, but be sure.
        (server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
      }),
  };
}
