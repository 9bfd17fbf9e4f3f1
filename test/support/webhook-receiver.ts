/**
 * A real HTTP webhook receiver for tests (node:http, no mocks): verifies every request's Standard Webhooks
 * signature with the shared secret (bad ones are answered 401 and recorded), validates the body as an
 * alert, and records accepted alerts by id — including duplicates. Responses are programmable: fail for a
 * while (`failFor`), fail the next n requests (`failNext`, with optional delay and headers).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Alert, AlertSchema } from '../../src/alerts/alert';
import { verifyWebhook } from '../../src/alerts/sign';

export interface ReceivedRequest {
  /** webhook-id header. */
  id: string | undefined;
  /** Status this receiver answered. */
  status: number;
  /** Whether the signature verified. */
  verified: boolean;
  /** Why it was refused (signature/alert problems), if it was. */
  reason?: string;
  /** Date.now() when the request arrived. */
  at: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export interface FailureSpec {
  status?: number;
  /** Answer only after this many ms (to exercise client timeouts). */
  delayMs?: number;
  headers?: Record<string, string>;
}

export interface ReceiverOptions {
  secret: string | readonly string[];
  /** If set, requests must carry exactly this Authorization header (else 401). */
  expectAuthorization?: string;
  toleranceSec?: number;
}

export interface WebhookReceiver {
  url: string;
  port: number;
  /** Accepted (2xx) alerts by id. */
  readonly alerts: Map<string, Alert>;
  /** Accepted alert ids in arrival order (with repeats). */
  readonly acceptedIds: string[];
  /** Ids accepted more than once. */
  readonly duplicates: string[];
  /** Every request, in arrival order. */
  readonly requests: ReceivedRequest[];
  /** Requests refused for a bad signature, bad auth or a malformed alert. */
  readonly rejected: ReceivedRequest[];
  /** Answer `status` (default 500) to every request for the next `ms`. */
  failFor(ms: number, status?: number, headers?: Record<string, string>): void;
  /** Answer the next `n` requests with a failure (default status 500). */
  failNext(n: number, spec?: FailureSpec): void;
  /** Stop failing (cancel failFor/failNext). */
  heal(): void;
  /** Resolves when `predicate(this)` holds (checked after every request), rejects after `timeoutMs`. */
  waitFor(predicate: (r: WebhookReceiver) => boolean, timeoutMs: number): Promise<void>;
  close(): Promise<void>;
}

export async function startWebhookReceiver(opts: ReceiverOptions): Promise<WebhookReceiver> {
  let failUntil = 0;
  let failStatus = 500;
  let failHeaders: Record<string, string> = {};
  const queued: FailureSpec[] = [];
  const waiters = new Set<() => void>();

  const receiver: WebhookReceiver = {
    url: '',
    port: 0,
    alerts: new Map(),
    acceptedIds: [],
    duplicates: [],
    requests: [],
    rejected: [],
    failFor(ms, status = 500, headers = {}) {
      failUntil = Date.now() + ms;
      failStatus = status;
      failHeaders = headers;
    },
    failNext(n, spec = {}) {
      for (let i = 0; i < n; i++) queued.push(spec);
    },
    heal() {
      failUntil = 0;
      queued.length = 0;
    },
    waitFor(predicate, timeoutMs) {
      return new Promise((resolve, reject) => {
        const check = (): void => {
          if (!predicate(receiver)) return;
          clearTimeout(timer);
          waiters.delete(check);
          resolve();
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(
            new Error(
              `webhook receiver: condition not met within ${timeoutMs} ms ` +
                `(${receiver.requests.length} requests, ${receiver.alerts.size} alerts accepted, ${receiver.rejected.length} rejected)`,
            ),
          );
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
    close() {
      return new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      });
    },
  };

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      const body = raw.toString('utf8');
      const id = typeof req.headers['webhook-id'] === 'string' ? req.headers['webhook-id'] : undefined;
      const record: ReceivedRequest = { id, status: 0, verified: false, at: Date.now(), headers: req.headers, body };
      receiver.requests.push(record);

      const answer = (status: number, headers: Record<string, string> = {}, delayMs = 0): void => {
        record.status = status;
        const send = (): void => {
          if (res.destroyed) return;
          res.writeHead(status, { 'content-type': 'text/plain', ...headers });
          res.end(status < 300 ? 'ok' : 'no');
        };
        if (delayMs > 0) setTimeout(send, delayMs);
        else send();
        for (const w of [...waiters]) w();
      };

      const v = verifyWebhook(req.headers, raw, opts.secret, opts.toleranceSec);
      record.verified = v.ok;
      if (!v.ok) {
        record.reason = v.reason;
        receiver.rejected.push(record);
        return answer(401);
      }
      if (opts.expectAuthorization !== undefined && req.headers.authorization !== opts.expectAuthorization) {
        record.reason = 'bad-authorization';
        receiver.rejected.push(record);
        return answer(401);
      }
      let alert: Alert;
      try {
        alert = AlertSchema.parse(JSON.parse(body));
      } catch (err) {
        record.reason = `invalid-alert: ${(err as Error).message.slice(0, 200)}`;
        receiver.rejected.push(record);
        return answer(400);
      }
      if (alert.id !== id) {
        record.reason = 'webhook-id differs from alert id';
        receiver.rejected.push(record);
        return answer(400);
      }
      const next = queued.shift();
      if (next) return answer(next.status ?? 500, next.headers, next.delayMs);
      if (Date.now() < failUntil) return answer(failStatus, failHeaders);
      if (receiver.alerts.has(alert.id)) receiver.duplicates.push(alert.id);
      receiver.alerts.set(alert.id, alert);
      receiver.acceptedIds.push(alert.id);
      answer(200);
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  receiver.port = port;
  receiver.url = `http://127.0.0.1:${port}/hooks/facestream`;
  return receiver;
}
