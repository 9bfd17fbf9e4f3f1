/**
 * `facestream api [--port N] [--host H] [--store PATH]`: the management API (src/api/server.ts). Embedded store
 * unless the store is redis://… or the config has redis.url (then distributed). The same port serves /healthz,
 * /readyz and /metrics without authentication. SIGINT/SIGTERM close it gracefully.
 */
import { Command } from 'commander';
import { createApiContext } from '../api/create-context';
import { attachStreaming } from '../api/cameras/streaming';
import { startApiServer } from '../api/server';
import { createMetrics } from '../metrics/registry';
import { maskUrl } from '../util/redact';
import { addCommonOptions, configFrom, type CommonFlags, portOption } from './common';

export function registerApiCommand(program: Command): void {
  addCommonOptions(
    program
      .command('api')
      .description('Serve the management API (cameras, identities, enrolment, watchlists, recognize, alerts, erasure); keys: facestream keys create')
      .option('--port <port>', 'TCP port (default api.port, 8080; 0 = any free port)', portOption)
      .option('--host <host>', 'interface to bind (default api.host, 0.0.0.0)'),
  ).action(async (opts: CommonFlags & { port?: number; host?: string }) => {
    const config = configFrom(opts, { api: { ...(opts.port !== undefined ? { port: opts.port } : {}), ...(opts.host ? { host: opts.host } : {}) } });
    const ctx = await createApiContext(config, { storeGiven: opts.store !== undefined });
    let server;
    try {
      // Cameras and recent alerts (embedded: the pipeline runs in this process); their metrics on /metrics.
      const metrics = createMetrics();
      await attachStreaming(ctx, { metrics });
      server = await startApiServer(ctx, { rateLimitRedis: ctx.redis?.client, registry: metrics.registry });
    } catch (e) {
      await ctx.close();
      throw e;
    }
    ctx.log.info({ mode: ctx.mode, store: maskUrl(ctx.gallery.where), address: server.address }, 'management API listening');
    process.stderr.write(`facestream: API at ${server.address} (${ctx.mode} mode, store ${maskUrl(ctx.gallery.where)}); OpenAPI at /openapi.json\n`);
    let stopping = false;
    const stop = (signal: NodeJS.Signals) => {
      if (stopping) return;
      stopping = true;
      ctx.log.info({ signal }, 'shutting down');
      void server
        .close()
        .then(() => ctx.close())
        .finally(() => process.exit(0));
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
    await new Promise<void>(() => undefined);
  });
}
