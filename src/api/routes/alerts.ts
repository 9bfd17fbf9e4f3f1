/**
 * GET /alerts?camera=&identity=&since=&until=&limit= : recent alerts, newest first, as summaries (who, where, when,
 * scores, box) — never the face picture or an embedding. Every role may read.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { CAMERA_NAME_EXPECTED, CAMERA_NAME_PATTERN } from '../../config/names';
import type { ApiContext } from '../context';
import { READ_ROLES } from '../context';
import { ApiError, badRequest } from '../errors';
import { ErrorSchema } from '../validation';

export const MAX_ALERTS_LIMIT = 1000;
const TIME_EXPECTED = 'expected an ISO 8601 time such as 2026-01-31T08:00:00Z';
const Time = z.iso.datetime({ offset: true, error: TIME_EXPECTED });

export const AlertsQuery = z.strictObject({
  camera: z.string({ error: CAMERA_NAME_EXPECTED }).regex(CAMERA_NAME_PATTERN, { error: CAMERA_NAME_EXPECTED }).optional().describe('only this camera'),
  identity: z.string().min(1, { error: 'expected an identity id' }).max(200, { error: 'expected an identity id' }).optional().describe('only this identity (id)'),
  since: Time.optional().describe('alerts created at or after this time'),
  until: Time.optional().describe('alerts created at or before this time'),
  limit: z.coerce
    .number({ error: `expected an integer 1..${MAX_ALERTS_LIMIT}` })
    .int({ error: `expected an integer 1..${MAX_ALERTS_LIMIT}` })
    .min(1, { error: `expected an integer 1..${MAX_ALERTS_LIMIT}` })
    .max(MAX_ALERTS_LIMIT, { error: `expected an integer 1..${MAX_ALERTS_LIMIT}` })
    .default(100)
    .describe('at most this many, newest first (default 100)'),
});

export const AlertSummarySchema = z.object({
  id: z.string(),
  camera: z.string(),
  identity: z.object({ id: z.string(), name: z.string() }),
  watchlists: z.array(z.string()),
  scores: z.object({ svm: z.number(), distance: z.number(), detector: z.number() }),
  trackId: z.string(),
  firstSeen: z.string(),
  lastSeen: z.string(),
  box: z.object({ x: z.number(), y: z.number(), width: z.number(), height: z.number() }),
  frameSize: z.object({ width: z.number(), height: z.number() }),
  createdAt: z.string(),
});

export function registerAlertRoutes(app: FastifyInstance, ctx: ApiContext): void {
  app.get(
    '/alerts',
    {
      config: { roles: READ_ROLES },
      schema: {
        tags: ['alerts'],
        summary: 'Recent alerts, newest first (no face pictures)',
        querystring: AlertsQuery,
        response: { 200: z.object({ alerts: z.array(AlertSummarySchema) }), 400: ErrorSchema, 401: ErrorSchema, 403: ErrorSchema },
      },
    },
    async (req) => {
      if (!ctx.alerts) throw new ApiError(503, 'unavailable', 'alerts are not available in this API process');
      const q = req.query as z.infer<typeof AlertsQuery>;
      const since = q.since === undefined ? undefined : Date.parse(q.since);
      const until = q.until === undefined ? undefined : Date.parse(q.until);
      if (since !== undefined && until !== undefined && since > until) throw badRequest('query.until: expected a time at or after query.since', 'until');
      return { alerts: await ctx.alerts.recent({ camera: q.camera, identity: q.identity, since, until, limit: q.limit }) };
    },
  );
}
