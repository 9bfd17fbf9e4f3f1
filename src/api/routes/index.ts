/**
 * Every route module of the management API, registered by server.ts. A module exports
 * `register<X>Routes(app: FastifyInstance, ctx: ApiContext): void` (see context.ts for roles and schemas).
 */
import type { FastifyInstance } from 'fastify';
import type { ApiContext } from '../context';
import { registerAuditRoutes } from '../audit/routes';
import { registerAlertRoutes } from './alerts';
import { registerCameraRoutes } from './cameras';
import { registerIdentityRoutes } from './identities';
import { registerRecognizeRoutes } from './recognize';
import { registerWatchlistRoutes } from './watchlists';

export function registerRouteModules(app: FastifyInstance, ctx: ApiContext): void {
  registerIdentityRoutes(app, ctx);
  registerWatchlistRoutes(app, ctx);
  registerRecognizeRoutes(app, ctx);
  registerAuditRoutes(app, ctx);
  registerCameraRoutes(app, ctx);
  registerAlertRoutes(app, ctx);
}
