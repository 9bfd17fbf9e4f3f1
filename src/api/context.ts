/**
 * What every route module gets: `register<X>Routes(app: FastifyInstance, ctx: ApiContext): void`.
 *
 * Routes declare who may call them in their route config, enforced by the auth hook of server.ts:
 *   app.get('/cameras', { config: { roles: READ_ROLES }, schema: { querystring: zodSchema } }, handler)
 * A route without `roles` is admin-only; `public: true` (ops endpoints only) skips authentication.
 * Schemas (body, querystring, params, response) are zod schemas: they validate the request (unknown fields
 * rejected when the schema is strict) and are turned into the OpenAPI document served at /openapi.json.
 * Throw ApiError (errors.ts) for a 4xx; any other error is a 500 whose details are logged, not returned.
 */
import type { FastifyRequest } from 'fastify';
import type { Config } from '../config/schema';
import type { Logger } from '../util/log';
import type { AuditLog } from './audit/audit-log';
import type { KeyStore, Role } from './auth/keys';
import type { FaceService } from './faces';
import type { GalleryAccess } from './gallery-access';
import type { IdentityDirectory } from './identity-directory';
import type { ReadinessCheck } from '../http/server';

export type { Role };

/** Who may call a route: per-route `config.roles`. */
export const ALL_ROLES: readonly Role[] = ['admin', 'operator', 'viewer'];
/** GET routes every role may read. */
export const READ_ROLES: readonly Role[] = ALL_ROLES;
/** Cameras, watchlists, recognize, alerts writes. */
export const OPERATOR_ROLES: readonly Role[] = ['admin', 'operator'];
export const ADMIN_ONLY: readonly Role[] = ['admin'];

export interface RouteAuthConfig {
  /** Roles allowed to call the route (default: admin only). */
  roles?: readonly Role[];
  /** Ops endpoints (healthz, readyz, metrics): no authentication. */
  public?: boolean;
}

declare module 'fastify' {
  interface FastifyContextConfig extends RouteAuthConfig {}
  interface FastifyRequest {
    /** The authenticated caller (set by the auth hook before any handler runs). */
    caller?: Caller;
  }
}

/** The authenticated caller: the key's id and role (never the key itself). */
export interface Caller {
  keyId: string;
  role: Role;
}

export interface ApiContext {
  config: Config;
  /** The API's logger (never given Authorization headers or URLs with credentials). */
  log: Logger;
  mode: 'embedded' | 'distributed';
  /** The gallery: local store or Redis, serialised writes, a trained matcher for recognize. */
  gallery: GalleryAccess;
  /** Detector + embedder for enrolment and recognize (opened on first use). */
  faces: FaceService;
  /** Display names and metadata of identities (the gallery holds their embeddings). */
  identities: IdentityDirectory;
  audit: AuditLog;
  keys: KeyStore;
  /**
   * Erasure hooks: DELETE /identities/:id calls each (after the gallery erasure) so other holders of the person's
   * data (e.g. a recent-alerts feed) forget it. Each returns a short non-sensitive note for the audit record.
   */
  erasureHooks: ((identityId: string) => Promise<string | void>)[];
  /** Extra readiness checks (/readyz); route modules may add their own. */
  readiness: Map<string, () => ReadinessCheck | Promise<ReadinessCheck>>;
  /** Called when the server closes, last registered first. */
  onClose: (fn: () => Promise<void> | void) => void;
  // Helper B adds: cameras?: CameraRegistry; alerts?: AlertFeed; runtime?: EmbeddedRuntime
}

/** The caller of a request that passed the auth hook. */
export function callerOf(req: FastifyRequest): Caller {
  if (!req.caller) throw new Error('route reached without authentication');
  return req.caller;
}
