/** GET /audit (admin): the newest audit records, optionally of one target or action. */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { ADMIN_ONLY, type ApiContext } from '../context';

const AuditQuery = z.strictObject({
  limit: z.coerce.number({ error: 'expected an integer 1..1000' }).int({ error: 'expected an integer 1..1000' }).min(1, { error: 'expected an integer 1..1000' }).max(1000, { error: 'expected an integer 1..1000' }).default(100),
  target: z.string().max(300, { error: 'expected at most 300 characters, e.g. identity:alice' }).optional(),
  action: z.string().max(100, { error: 'expected at most 100 characters, e.g. identity.erase' }).optional(),
});

const AuditRecordSchema = z.object({
  at: z.string(),
  keyId: z.string(),
  role: z.enum(['admin', 'operator', 'viewer']),
  action: z.string(),
  target: z.string(),
  result: z.enum(['ok', 'error']),
  detail: z.string().optional(),
});

export function registerAuditRoutes(app: FastifyInstance, ctx: ApiContext): void {
  app.get(
    '/audit',
    {
      config: { roles: ADMIN_ONLY },
      schema: { tags: ['audit'], summary: 'Audit records, newest first (who, when, what; no biometric data)', querystring: AuditQuery, response: { 200: z.object({ records: z.array(AuditRecordSchema) }) } },
    },
    async (req) => {
      const q = req.query as z.output<typeof AuditQuery>;
      return { records: await ctx.audit.list(q) };
    },
  );
}
