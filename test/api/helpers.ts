/**
 * A real management API server for tests: listening on 127.0.0.1 (any free port), embedded (a temporary store
 * directory) or distributed (a real Redis from test/support/redis.ts), with one key per role.
 *
 *   const api = await startTestApi({ redisUrl });        // or {} for embedded
 *   const res = await api.call('POST', '/identities', { key: api.keys.admin, json: { name: 'Jane' } });
 *   await api.close();
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createApiContext, type OwnedApiContext } from '../../src/api/create-context';
import { startApiServer, type RunningApiServer } from '../../src/api/server';
import { attachStreaming } from '../../src/api/cameras/streaming';
import { createMetrics } from '../../src/metrics/registry';
import type { Role } from '../../src/api/auth/keys';
import { loadConfig } from '../../src/config/load';
import type { ConfigOverrides } from '../../src/config/schema';
import { sharedDir } from '../support/shared';
import { logger } from '../../src/util/log';

export interface TestApi {
  url: string;
  ctx: OwnedApiContext;
  server: RunningApiServer;
  /** The store directory (embedded) or a temporary directory (distributed). */
  dir: string;
  keys: Record<Role, string>;
  call(method: string, route: string, opts?: CallOptions): Promise<{ status: number; body: any; headers: Headers; text: string }>;
  close(): Promise<void>;
}

export interface CallOptions {
  key?: string;
  json?: unknown;
  /** Raw body (with its content type). */
  raw?: { body: string | Buffer; contentType: string };
  /** Multipart files: [field, filename, bytes]. */
  files?: [string, string, Buffer][];
  headers?: Record<string, string>;
}

export interface TestApiOptions {
  redisUrl?: string;
  /** Redis key prefix (distributed), default a fresh one per server. */
  prefix?: string;
  config?: ConfigOverrides;
  /** Also run the cameras and alerts side (attachStreaming, as `facestream api` does); its metrics on /metrics. */
  streaming?: boolean;
  /** Use this directory (kept at close) instead of a new temporary one (a restart on the same store). */
  dir?: string;
}

let counter = 0;

export async function startTestApi(options: TestApiOptions = {}): Promise<TestApi> {
  const dir = options.dir ?? mkdtempSync(path.join(os.tmpdir(), 'facestream-api-'));
  const prefix = options.prefix ?? `t${process.pid}x${++counter}:`;
  const overrides: ConfigOverrides = {
    ...options.config,
    store: options.redisUrl ?? path.join(dir, 'store'),
    redis: { ...(options.redisUrl ? { url: options.redisUrl } : {}), prefix },
    api: { rateLimit: { max: 100_000 }, ...options.config?.api },
    log: { level: 'silent' },
  };
  const config = loadConfig({ env: {}, overrides });
  const ctx = await createApiContext(config, { inThreadTraining: true, log: logger().child({}, { level: 'silent' }) });
  const metrics = options.streaming ? createMetrics() : undefined;
  if (metrics) await attachStreaming(ctx, { metrics });
  const server = await startApiServer(ctx, { port: 0, host: '127.0.0.1', rateLimitRedis: ctx.redis?.client, ...(metrics ? { registry: metrics.registry } : {}) });
  const keys = {} as Record<Role, string>;
  for (const role of ['admin', 'operator', 'viewer'] as const) keys[role] = (await ctx.keys.create(role, `test ${role}`)).key;

  const call: TestApi['call'] = async (method, route, opts = {}) => {
    const headers: Record<string, string> = { ...opts.headers };
    if (opts.key) headers.authorization = `Bearer ${opts.key}`;
    let body: string | Buffer | FormData | undefined;
    if (opts.json !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(opts.json);
    } else if (opts.raw) {
      headers['content-type'] = opts.raw.contentType;
      body = opts.raw.body;
    } else if (opts.files) {
      const form = new FormData();
      for (const [field, filename, data] of opts.files) form.append(field, new Blob([data]), filename);
      body = form;
    }
    const res = await fetch(`${server.address}${route}`, { method, headers, body: body as never });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      /* not JSON */
    }
    return { status: res.status, body: parsed, headers: res.headers, text };
  };

  return {
    url: server.address,
    ctx,
    server,
    dir,
    keys,
    call,
    async close() {
      await server.close();
      await ctx.close();
      if (!options.dir) rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Image files of one lfw-dev person (sorted), or [] without ../shared. */
export function lfwImages(person: string, set = 'lfw-dev'): Buffer[] {
  const root = sharedDir();
  if (!root) return [];
  const folder = path.join(root, 'data', set, person);
  return readdirSync(folder)
    .filter((f) => f.endsWith('.jpg'))
    .sort()
    .map((f) => readFileSync(path.join(folder, f)));
}

/** The first `n` lfw-dev people (sorted). */
export function lfwPeople(n: number, set = 'lfw-dev'): string[] {
  const root = sharedDir();
  if (!root) return [];
  return readdirSync(path.join(root, 'data', set)).sort().slice(0, n);
}

/** A group photo shipped by npm @vladmandic/face-api (several faces). */
export function groupPhoto(): Buffer {
  return readFileSync(path.join(require.resolve('@vladmandic/face-api/package.json'), '..', 'demo', 'sample1.jpg'));
}

/** An identity id from a person's folder name. */
export function idOf(person: string): string {
  return person.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '');
}
