// One JSON request over HTTPS with an explicit trust anchor and, for mTLS routes, a client
// certificate. `agent: false` makes a fresh connection each time, so a renewed certificate is
// presented on the very next request (spec §6.14's gap: long-lived clients kept the old one).
import { request } from 'node:https';

export interface HttpsJsonTls {
  /** The fleet CA (PEM): the only anchor the CP's server certificate is checked against. */
  ca: string;
  cert?: string | undefined;
  key?: string | undefined;
}

export interface HttpsJsonResponse {
  status: number;
  /** Parsed JSON, or undefined when the body is empty or not JSON. */
  body: unknown;
}

export type HttpsJsonResult =
  | { ok: true; response: HttpsJsonResponse }
  | { ok: false; error: { code: 'Transport'; message: string } };

export interface HttpsJsonOptions {
  method?: 'GET' | 'POST';
  body?: unknown;
  tls: HttpsJsonTls;
  /** Milliseconds for the whole exchange. Default 30 s. */
  timeoutMs?: number;
}

export function httpsJson(url: string, options: HttpsJsonOptions): Promise<HttpsJsonResult> {
  return new Promise((resolve) => {
    const payload = options.body === undefined ? undefined : Buffer.from(JSON.stringify(options.body));
    const req = request(
      url,
      {
        method: options.method ?? (payload === undefined ? 'GET' : 'POST'),
        agent: false,
        ca: options.tls.ca,
        ...(options.tls.cert === undefined ? {} : { cert: options.tls.cert }),
        ...(options.tls.key === undefined ? {} : { key: options.tls.key }),
        headers: {
          accept: 'application/json',
          // Enroll and renew always announce the protocol major (spec §5.2).
          'x-nixfleet-protocol': '1',
          ...(payload === undefined
            ? {}
            : { 'content-type': 'application/json', 'content-length': payload.length }),
        },
        timeout: options.timeoutMs ?? 30_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', (error) =>
          resolve({ ok: false, error: { code: 'Transport', message: error.message } }),
        );
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let body: unknown;
          try {
            body = text === '' ? undefined : (JSON.parse(text) as unknown);
          } catch {
            body = undefined;
          }
          resolve({ ok: true, response: { status: res.statusCode ?? 0, body } });
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error('request timed out')));
    req.on('error', (error) => resolve({ ok: false, error: { code: 'Transport', message: error.message } }));
    req.end(payload);
  });
}
