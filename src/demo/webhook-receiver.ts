/**
 * The demo's alert receiver: a plain node:http server, as a customer's would be. Every POST is checked the
 * Standard Webhooks way (signature over id.timestamp.body, timestamp within 5 minutes) with the shared secret,
 * then parsed as an alert; the face JPEG is saved to `<alertsDir>/<alert id>.jpg` (mode 0600: it is biometric
 * data). Bad signatures get 401, malformed alerts 400, everything else 200 (a repeated id is acknowledged again,
 * as a receiver must for retries, and counted once).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { AlertSchema, type Alert } from '../alerts/alert';
import { verifyWebhook } from '../alerts/sign';

export interface ReceivedAlert {
  alert: Alert;
  /** Where the face JPEG was saved. */
  jpeg: string;
  receivedAt: number;
}

export interface DemoReceiver {
  url: string;
  /** Accepted alerts, first delivery of each id, in arrival order. */
  readonly alerts: ReceivedAlert[];
  /** Requests refused, with the reason. */
  readonly rejected: { reason: string; at: number }[];
  close(): Promise<void>;
}

export interface DemoReceiverOptions {
  secret: string;
  alertsDir: string;
  onAlert?: (a: ReceivedAlert) => void;
  onRejected?: (reason: string) => void;
  /** Port on 127.0.0.1 (default 0: any free port). */
  port?: number;
}

const MAX_BODY = 16 << 20;

export async function startDemoReceiver(options: DemoReceiverOptions): Promise<DemoReceiver> {
  await mkdir(options.alertsDir, { recursive: true, mode: 0o700 });
  const alerts: ReceivedAlert[] = [];
  const rejected: { reason: string; at: number }[] = [];
  const seen = new Set<string>();

  const handle = async (req: http.IncomingMessage, raw: Buffer): Promise<[number, string]> => {
    if (req.method !== 'POST') return [405, 'POST only'];
    const v = verifyWebhook(req.headers, raw, options.secret);
    if (!v.ok) return reject(401, `signature check failed: ${v.reason}`);
    let alert: Alert;
    try {
      alert = AlertSchema.parse(JSON.parse(raw.toString('utf8')));
    } catch (err) {
      return reject(400, `not a facestream alert: ${(err as Error).message.slice(0, 200)}`);
    }
    if (alert.id !== v.id) return reject(400, 'webhook-id differs from the alert id');
    if (seen.has(alert.id)) return [200, 'duplicate'];
    seen.add(alert.id);
    const jpeg = path.join(options.alertsDir, `${alert.id}.jpg`);
    await writeFile(jpeg, Buffer.from(alert.faceJpeg, 'base64'), { mode: 0o600 });
    const received = { alert, jpeg, receivedAt: Date.now() };
    alerts.push(received);
    options.onAlert?.(received);
    return [200, 'ok'];
  };
  const reject = (status: number, reason: string): [number, string] => {
    rejected.push({ reason, at: Date.now() });
    options.onRejected?.(reason);
    return [status, reason];
  };

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) req.destroy();
      else chunks.push(c);
    });
    req.on('end', () => {
      handle(req, Buffer.concat(chunks))
        .catch((err: Error): [number, string] => [500, `receiver error: ${err.message}`])
        .then(([status, text]) => {
          res.writeHead(status, { 'content-type': 'text/plain' });
          res.end(text);
        });
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/facestream/alerts`,
    alerts,
    rejected,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
