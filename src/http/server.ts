/**
 * The operations HTTP server (fastify): Prometheus metrics and health probes.
 *   GET /metrics  Prometheus text exposition of the registry
 *   GET /healthz  liveness: 200 while the process serves requests
 *   GET /readyz   readiness: 200 {ready:true, checks} or 503 {ready:false, checks} from the callback
 * Nothing secret is served: metric labels are camera names; readiness details are passed through
 * maskUrlsInText() in case a check's detail quotes a URL.
 */
import Fastify from 'fastify';
import type { Registry } from 'prom-client';
import { maskUrlsInText } from '../config/mask-text';

export interface ReadinessCheck {
  ok: boolean;
  /** Short human-readable state, e.g. "3/4 cameras up". */
  detail?: string;
}

export interface ReadinessReport {
  ready: boolean;
  checks: Record<string, ReadinessCheck>;
}

export interface HttpServerOptions {
  /** TCP port; 0 picks a free one (see the returned `port`). */
  port: number;
  /** Interface to bind. Default 0.0.0.0 (probes and scrapers come from outside the container). */
  host?: string;
  registry: Registry;
  /** Readiness callback; without one /readyz answers ready. */
  readiness?: () => ReadinessReport | Promise<ReadinessReport>;
}

export interface RunningHttpServer {
  /** Base URL, e.g. http://127.0.0.1:9464 */
  address: string;
  port: number;
  close(): Promise<void>;
}

export async function startHttpServer(opts: HttpServerOptions): Promise<RunningHttpServer> {
  const host = opts.host ?? '0.0.0.0';
  const app = Fastify({ logger: false });

  app.get('/metrics', async (_req, reply) => {
    const text = await opts.registry.metrics();
    return reply.header('content-type', opts.registry.contentType).header('cache-control', 'no-store').send(text);
  });

  app.get('/healthz', async (_req, reply) => reply.header('cache-control', 'no-store').send({ status: 'ok' }));

  app.get('/readyz', async (_req, reply) => {
    let report: ReadinessReport;
    try {
      report = opts.readiness ? await opts.readiness() : { ready: true, checks: {} };
    } catch {
      report = { ready: false, checks: { readiness: { ok: false, detail: 'readiness check failed' } } };
    }
    const checks: Record<string, ReadinessCheck> = {};
    for (const [name, c] of Object.entries(report.checks ?? {})) {
      checks[maskUrlsInText(name)] = c.detail === undefined ? { ok: !!c.ok } : { ok: !!c.ok, detail: maskUrlsInText(String(c.detail)) };
    }
    return reply
      .code(report.ready ? 200 : 503)
      .header('cache-control', 'no-store')
      .send({ ready: !!report.ready, checks });
  });

  try {
    await app.listen({ port: opts.port, host });
  } catch (err) {
    await app.close().catch(() => undefined);
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'EADDRINUSE' ? 'the address is in use' : code === 'EACCES' ? 'permission denied' : (err as Error).message;
    throw new Error(`cannot start the metrics/health server on ${host}:${opts.port}: ${why}`);
  }
  const addr = app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : opts.port;
  const shownHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
  return {
    address: `http://${shownHost}:${port}`,
    port,
    close: () => app.close(),
  };
}
