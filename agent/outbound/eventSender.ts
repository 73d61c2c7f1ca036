// The drainer's default `send`: one `POST {cp}/v1/agent/events` per event (spec §5.4), over mTLS
// in production or plain HTTP under `--insecure-http`. A fresh connection per request, so a renewed
// client certificate is presented on the very next send (spec §10 G25).
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { AgentEventEnvelope } from '../../proto/index.ts';
import type { OutboundSend, SendResult } from './delivery.ts';

export interface EventSenderTls {
  /** The fleet CA (PEM) the CP's server certificate is checked against. */
  ca: string;
  cert: string;
  key: string;
}

export interface EventSenderOptions {
  /** `--control-plane-url`, e.g. `https://cp.example:8080`. */
  controlPlaneUrl: string;
  /** Required for https URLs. Read per call, so a renewal takes effect without a restart. */
  tls?: () => EventSenderTls;
  /** Gives up when the connection makes no progress for this long, ms. Default 10 s (spec Appendix A). */
  timeoutMs?: number;
}

export function createEventSender(options: EventSenderOptions): OutboundSend {
  const url = new URL(
    'v1/agent/events',
    options.controlPlaneUrl.endsWith('/') ? options.controlPlaneUrl : `${options.controlPlaneUrl}/`,
  );
  const timeoutMs = options.timeoutMs ?? 10_000;
  return (envelope: AgentEventEnvelope) =>
    new Promise<SendResult>((resolve) => {
      const payload = Buffer.from(JSON.stringify(envelope));
      const headers = {
        'content-type': 'application/json',
        'content-length': payload.length,
        accept: 'application/json',
        'x-nixfleet-protocol': '1',
      };
      const onResponse = (res: import('node:http').IncomingMessage): void => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', (e) => resolve({ ok: false, error: { code: 'Transport', message: e.message } }));
        res.on('end', () => {
          const h: Record<string, string | undefined> = {};
          for (const [k, v] of Object.entries(res.headers)) h[k] = Array.isArray(v) ? v.join(', ') : v;
          resolve({
            ok: true,
            status: res.statusCode ?? 0,
            headers: h,
            body: Buffer.concat(chunks).toString('utf8'),
          });
        });
      };
      let req: import('node:http').ClientRequest;
      if (url.protocol === 'https:') {
        const tls = options.tls?.();
        if (tls === undefined) {
          resolve({
            ok: false,
            error: { code: 'Transport', message: 'https control plane URL but no client TLS identity' },
          });
          return;
        }
        req = httpsRequest(
          url,
          { method: 'POST', agent: false, headers, timeout: timeoutMs, ...tls },
          onResponse,
        );
      } else {
        req = httpRequest(url, { method: 'POST', agent: false, headers, timeout: timeoutMs }, onResponse);
      }
      req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
      req.on('error', (e) => resolve({ ok: false, error: { code: 'Transport', message: e.message } }));
      req.end(payload);
    });
}
