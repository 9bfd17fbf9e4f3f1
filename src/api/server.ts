/**
 * The management API server (fastify). One port serves:
 *   - the ops endpoints, unauthenticated: GET /healthz, /readyz, /metrics (Kubernetes probes, Prometheus)
 *   - everything else behind `Authorization: Bearer <key>` (auth/keys.ts), with per-route roles
 *     (`config.roles`, context.ts): 401 without a valid key, 403 when the key's role may not call the route
 *   - GET /openapi.json, generated from the zod schemas that validate the requests (validation.ts)
 *
 * Limits: JSON bodies up to api.bodyLimitBytes; uploads (multipart) up to api.maxUploadFiles files of
 * api.maxUploadBytes each; api.rateLimit.max requests per api.rateLimit.windowMs per key (Redis-backed in
 * distributed mode, so the limit holds across API replicas). Every error is `{ error: { code, message, field? } }`
 * (errors.ts); a 5xx says only "internal error" and the details go to the log (no request bodies, no headers).
 *
 * The request log holds method, route, status, time and the key id, never the Authorization header, bodies or
 * query strings (a camera URL could be in one).
 */
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import multipart from '@fastify/multipart';
import rateLimit from '@fastify/rate-limit';
import swagger from '@fastify/swagger';
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { maskUrlsInText } from '../config/mask-text';
import type { ReadinessCheck } from '../http/server';
import type { ApiContext, Caller, Role } from './context';
import { ApiError, type ErrorBody } from './errors';
import { registerRouteModules } from './routes';
import { toOpenApi, validatorCompiler } from './validation';

export const API_VERSION = '1';

export interface ApiServerOptions {
  /** Metrics registry (default: a new one with the process metrics). */
  registry?: Registry;
  /** Redis client for rate-limit counters shared by API replicas (distributed mode). */
  rateLimitRedis?: import('ioredis').Redis;
}

const AUTH_HELP = 'send an API key as "Authorization: Bearer <key>" (create one with: facestream keys create --role admin|operator|viewer)';

function errorReply(reply: FastifyReply, e: ApiError): FastifyReply {
  if (e.statusCode === 401) reply.header('www-authenticate', 'Bearer realm="facestream"');
  // Last line of defence: no URL leaves with its credentials, whatever a message quotes.
  const body = e.body();
  body.error.message = maskUrlsInText(body.error.message);
  return reply.code(e.statusCode).send(body);
}

/** Fastify's and its plugins' own 4xx errors, in the API's format. */
function fromFastifyError(err: FastifyError, ctx: ApiContext): ApiError | undefined {
  const status = err.statusCode ?? 500;
  if (err instanceof ApiError) return err;
  switch (err.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new ApiError(413, 'body-too-large', `request body is larger than the limit of ${ctx.config.api.bodyLimitBytes} bytes`);
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new ApiError(415, 'unsupported-media-type', 'unsupported content-type: send application/json (or multipart/form-data for uploads)');
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new ApiError(400, 'invalid-json', 'body: empty body with content-type application/json; expected a JSON object');
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new ApiError(400, 'invalid-request', 'content-length does not match the body');
    case 'FST_REQ_FILE_TOO_LARGE':
      return new ApiError(413, 'too-large', `an uploaded file is larger than the limit of ${ctx.config.api.maxUploadBytes} bytes`);
    case 'FST_FILES_LIMIT':
      return new ApiError(413, 'too-many-files', `more than ${ctx.config.api.maxUploadFiles} files in one upload`);
    case 'FST_PARTS_LIMIT':
    case 'FST_FIELDS_LIMIT':
      return new ApiError(413, 'too-many-parts', 'too many parts in the multipart body');
    case 'FST_INVALID_MULTIPART_CONTENT_TYPE':
      return new ApiError(415, 'unsupported-media-type', 'expected a multipart/form-data upload of image files');
    case 'FST_ERR_VALIDATION':
      return new ApiError(400, 'invalid-request', maskUrlsInText(err.message));
  }
  // JSON syntax errors from fastify's parser carry 400 and a SyntaxError message.
  if (status === 400 && (err instanceof SyntaxError || /JSON/i.test(err.message))) {
    return new ApiError(400, 'invalid-json', `body: malformed JSON (${maskUrlsInText(err.message)}); expected a JSON object`);
  }
  if (status >= 400 && status < 500) return new ApiError(status, 'invalid-request', maskUrlsInText(err.message));
  return undefined;
}

/** Builds the API app (not listening). `ctx` supplies the stores; the caller closes ctx after app.close(). */
export async function buildApiServer(ctx: ApiContext, options: ApiServerOptions = {}): Promise<FastifyInstance> {
  const api = ctx.config.api;
  const app = Fastify({
    logger: false,
    bodyLimit: api.bodyLimitBytes,
    // Ids, names and slugs only in paths; long paths are refused by the router.
    routerOptions: { maxParamLength: 200, ignoreTrailingSlash: true },
    return503OnClosing: true,
    ajv: { customOptions: { removeAdditional: false } },
  });
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));
  // JSON and multipart only: a text/plain body is refused (415) rather than validated as a string.
  app.removeContentTypeParser('text/plain');

  // ---- metrics -----------------------------------------------------------------------------------------
  const registry = options.registry ?? new Registry();
  if (!options.registry) collectDefaultMetrics({ register: registry, prefix: 'facestream_api_' });
  const requests = new Counter({ name: 'facestream_api_requests_total', help: 'API requests by route template, method and status', labelNames: ['route', 'method', 'status'], registers: [registry] });
  const seconds = new Histogram({ name: 'facestream_api_request_seconds', help: 'API request duration by route template', labelNames: ['route'], buckets: [0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30], registers: [registry] });
  const authFailures = new Counter({ name: 'facestream_api_auth_failures_total', help: 'Requests refused 401 (no or bad key) or 403 (role)', labelNames: ['status'], registers: [registry] });

  // ---- errors --------------------------------------------------------------------------------------------
  app.setErrorHandler((err: FastifyError, req, reply) => {
    const known = fromFastifyError(err, ctx);
    if (known) return errorReply(reply, known);
    ctx.log.error({ err: maskUrlsInText(err.message), method: req.method, route: req.routeOptions.url }, 'API request failed');
    return reply.code(500).send({ error: { code: 'internal', message: 'internal error (see the server log)' } } satisfies ErrorBody);
  });
  app.setNotFoundHandler((req, reply) =>
    errorReply(reply, new ApiError(404, 'not-found', `no such endpoint: ${req.method} ${req.url.split('?')[0].slice(0, 200)} (see GET /openapi.json)`)),
  );

  // ---- authentication and roles (before the body is read) -------------------------------------------------
  app.addHook('onRequest', async (req: FastifyRequest, reply: FastifyReply) => {
    const cfg = req.routeOptions.config ?? {};
    if (cfg.public) return;
    const header = req.headers.authorization;
    const m = typeof header === 'string' ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
    if (!m) {
      authFailures.inc({ status: '401' });
      return errorReply(reply, new ApiError(401, 'unauthorized', `missing or malformed Authorization header: ${AUTH_HELP}`));
    }
    let key;
    try {
      key = await ctx.keys.verify(m[1]);
    } catch (e) {
      ctx.log.error({ err: maskUrlsInText((e as Error).message) }, 'cannot check an API key');
      return errorReply(reply, new ApiError(503, 'unavailable', 'cannot check the API key now (the key store is unreachable); retry later'));
    }
    if (!key) {
      authFailures.inc({ status: '401' });
      return errorReply(reply, new ApiError(401, 'unauthorized', `invalid or revoked API key: ${AUTH_HELP}`));
    }
    const caller: Caller = { keyId: key.id, role: key.role };
    req.caller = caller;
    // Unknown routes: an authenticated caller gets the 404 of the not-found handler.
    if (req.is404) return;
    const roles: readonly Role[] = cfg.roles ?? ['admin'];
    if (!roles.includes(caller.role)) {
      authFailures.inc({ status: '403' });
      return errorReply(reply, new ApiError(403, 'forbidden', `role "${caller.role}" may not call ${req.method} ${req.routeOptions.url} (allowed: ${roles.join(', ')})`));
    }
  });

  app.addHook('onResponse', async (req, reply) => {
    const route = req.routeOptions.url ?? 'unknown';
    requests.inc({ route, method: req.method, status: String(reply.statusCode) });
    seconds.observe({ route }, reply.elapsedTime / 1000);
    if (reply.statusCode >= 500 || reply.statusCode === 429) {
      ctx.log.warn({ method: req.method, route, status: reply.statusCode, keyId: req.caller?.keyId }, 'API request');
    } else ctx.log.debug({ method: req.method, route, status: reply.statusCode, keyId: req.caller?.keyId, ms: Math.round(reply.elapsedTime) }, 'API request');
  });

  // ---- limits ---------------------------------------------------------------------------------------------
  await app.register(rateLimit, {
    global: true,
    hook: 'preParsing',
    max: api.rateLimit.max,
    timeWindow: api.rateLimit.windowMs,
    keyGenerator: (req) => (req.caller ? `key:${req.caller.keyId}` : `ip:${req.ip}`),
    nameSpace: `${ctx.config.redis.prefix}api:ratelimit:`,
    ...(options.rateLimitRedis ? { redis: options.rateLimitRedis, skipOnError: false } : {}),
    errorResponseBuilder: (_req, c) => {
      const e = new ApiError(429, 'rate-limited', `rate limit of ${c.max} requests per ${Math.round(c.ttl / 1000) || 1} s for this API key exceeded; retry after ${c.after}`);
      return Object.assign(e, { statusCode: 429 });
    },
  });
  await app.register(multipart, {
    throwFileSizeLimit: false,
    limits: { fileSize: api.maxUploadBytes, files: api.maxUploadFiles, fields: 20, parts: api.maxUploadFiles + 20, fieldSize: 64 * 1024, headerPairs: 100 },
  });

  // ---- OpenAPI --------------------------------------------------------------------------------------------
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'facestream management API',
        version: API_VERSION,
        description:
          'Cameras, identities and enrolment, watchlists, recognition, alerts and erasure. Every endpoint except ' +
          '/healthz, /readyz and /metrics needs `Authorization: Bearer <key>`; keys are created with ' +
          '`facestream keys create --role admin|operator|viewer`. Errors are `{ error: { code, message, field? } }`.',
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'an API key from `facestream keys create`' } } },
      security: [{ bearer: [] }],
    },
    transform: toOpenApi as never,
  });

  // ---- ops endpoints (public) -------------------------------------------------------------------------------
  const ops = { config: { public: true, rateLimit: false }, schema: { hide: true } };
  app.get('/healthz', ops, async (_req, reply) => reply.header('cache-control', 'no-store').send({ status: 'ok' }));
  app.get('/readyz', ops, async (_req, reply) => {
    const checks: Record<string, ReadinessCheck> = {};
    const g = await ctx.gallery.check();
    checks.gallery = g;
    for (const [name, fn] of ctx.readiness) {
      try {
        const c = await fn();
        checks[name] = { ok: !!c.ok, ...(c.detail !== undefined ? { detail: maskUrlsInText(String(c.detail)) } : {}) };
      } catch (e) {
        checks[name] = { ok: false, detail: maskUrlsInText((e as Error).message) };
      }
    }
    checks.gallery.detail = maskUrlsInText(checks.gallery.detail ?? '');
    const ready = Object.values(checks).every((c) => c.ok);
    return reply.code(ready ? 200 : 503).header('cache-control', 'no-store').send({ ready, checks });
  });
  app.get('/metrics', ops, async (_req, reply) => reply.header('content-type', registry.contentType).header('cache-control', 'no-store').send(await registry.metrics()));

  app.get('/openapi.json', { config: { roles: ['admin', 'operator', 'viewer'] }, schema: { hide: true } }, async () => app.swagger());

  registerRouteModules(app, ctx);
  return app;
}

export interface RunningApiServer {
  app: FastifyInstance;
  /** Base URL, e.g. http://127.0.0.1:8080 */
  address: string;
  port: number;
  close(): Promise<void>;
}

/** Builds and starts the app on api.host:api.port (the port may be overridden; 0 = any free port). */
export async function startApiServer(ctx: ApiContext, options: ApiServerOptions & { port?: number; host?: string } = {}): Promise<RunningApiServer> {
  const app = await buildApiServer(ctx, options);
  const host = options.host ?? ctx.config.api.host;
  const port = options.port ?? ctx.config.api.port;
  try {
    await app.listen({ port, host });
  } catch (err) {
    await app.close().catch(() => undefined);
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'EADDRINUSE' ? 'the address is in use' : code === 'EACCES' ? 'permission denied' : (err as Error).message;
    throw new Error(`cannot start the API server on ${host}:${port}: ${why}`);
  }
  const addr = app.server.address();
  const bound = typeof addr === 'object' && addr ? addr.port : port;
  const shownHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
  return { app, address: `http://${shownHost}:${bound}`, port: bound, close: () => app.close() };
}
