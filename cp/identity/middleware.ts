// `require_cn` (spec §5.2): every mTLS route learns who is calling from the TLS layer alone. Node has
// already verified the chain against the client CA (`requestCert`, `ca`); with
// `rejectUnauthorized: false` the handshake still completes so that anonymous `/v1/enroll` works on
// the same port, which is why this middleware must check `authorized` itself.
import { X509Certificate } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import type { HttpBindings } from '@hono/node-server';
import type { Context, MiddlewareHandler } from 'hono';
import { jsonError } from './jsonError.ts';
import { machineIdFromCn } from './machineId.ts';
import { isRevoked, type RevocationLookup } from './revocations.ts';

/** The verified caller of an mTLS route. */
export interface Identity {
  /** The leaf certificate's full CN. */
  readonly cn: string;
  /** The CN reduced to a host name (spec §5.1). */
  readonly machineId: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** Uppercase hex, as Node reports it. */
  readonly serial: string;
}

export type IdentityVariables = { identity: Identity };
export type IdentityEnv = { Bindings: HttpBindings; Variables: IdentityVariables };

export interface IdentityMiddlewareOptions {
  revocations: RevocationLookup;
  /** `--agent-cn-suffix`; without it CNs are `agent-<machineId>` (see `machineIdFromCn`). */
  cnSuffix?: string | undefined;
}

export type PeerCertificateResult =
  | { ok: true; cn: string; notBefore: Date; notAfter: Date; serial: string }
  | { ok: false; detail: string };

/** The verified client certificate on a request's socket, if the TLS layer holds one. */
export function verifiedPeerCertificate(bindings: Partial<HttpBindings> | undefined): PeerCertificateResult {
  const socket = bindings?.incoming?.socket as Partial<TLSSocket> | undefined;
  if (socket === undefined || typeof socket.getPeerCertificate !== 'function') {
    return { ok: false, detail: 'this endpoint needs HTTPS with a client certificate' };
  }
  if (socket.authorized !== true) {
    const why = socket.authorizationError === undefined ? '' : ` (${String(socket.authorizationError)})`;
    return {
      ok: false,
      detail: `present a client certificate issued by the fleet CA${why}; enroll or renew to get one`,
    };
  }
  const peer = socket.getPeerCertificate();
  // A CN given twice is ambiguous: refuse rather than pick one.
  const cn: unknown = peer.subject?.CN;
  if (typeof cn !== 'string' || cn === '' || peer.raw === undefined) {
    return { ok: false, detail: 'the client certificate has no single subject CN' };
  }
  // Dates from the DER rather than `valid_from` strings: one parser, and it fails loudly.
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(peer.raw);
  } catch {
    return { ok: false, detail: 'the client certificate cannot be read' };
  }
  const notBefore = new Date(x509.validFrom);
  const notAfter = new Date(x509.validTo);
  if (Number.isNaN(notBefore.getTime()) || Number.isNaN(notAfter.getTime())) {
    return { ok: false, detail: 'the client certificate validity cannot be read' };
  }
  return { ok: true, cn, notBefore, notAfter, serial: x509.serialNumber };
}

/** 401 without a verified, unrevoked client certificate; otherwise `c.get('identity')` is set. */
export function createIdentityMiddleware(options: IdentityMiddlewareOptions): MiddlewareHandler<IdentityEnv> {
  return async (c, next) => {
    const peer = verifiedPeerCertificate(c.env);
    if (!peer.ok) return jsonError(c, 401, 'unauthenticated', peer.detail);
    const machineId = machineIdFromCn(peer.cn, options.cnSuffix);
    let revokedBefore: Date | undefined;
    try {
      revokedBefore = await options.revocations.revokedBefore(machineId);
    } catch {
      // Fail closed: an unknown revocation state must not admit a possibly revoked host (spec §5.1: 500).
      return jsonError(c, 500, 'internal', 'the revocation list cannot be read; retry later');
    }
    if (isRevoked(peer.notBefore, revokedBefore)) {
      return jsonError(
        c,
        401,
        'revoked',
        `certificates for ${machineId} issued before ${revokedBefore?.toISOString()} are revoked; re-enroll with a new bootstrap token`,
      );
    }
    c.set('identity', {
      cn: peer.cn,
      machineId,
      notBefore: peer.notBefore,
      notAfter: peer.notAfter,
      serial: peer.serial,
    });
    await next();
    return undefined;
  };
}

/**
 * 403 when the verified caller is not `hostname` (the hostname a body or path names), else
 * undefined. A route without the identity middleware in front of it gets 401, never a pass.
 */
export function hostMismatch(c: Context<IdentityEnv>, hostname: string): Response | undefined {
  const identity = c.get('identity') as Identity | undefined;
  if (identity === undefined)
    return jsonError(c, 401, 'unauthenticated', 'this endpoint needs a client certificate');
  if (identity.machineId === hostname) return undefined;
  return jsonError(
    c,
    403,
    'identity_mismatch',
    `the client certificate is for ${identity.machineId}, but the request names ${hostname}; a host may only act for itself`,
  );
}

/** Middleware form of `hostMismatch` for routes that name the host in a path parameter. */
export function requirePathHost(param: string): MiddlewareHandler<IdentityEnv> {
  return async (c, next) => {
    const mismatch = hostMismatch(c, c.req.param(param) ?? '');
    if (mismatch !== undefined) return mismatch;
    await next();
    return undefined;
  };
}
