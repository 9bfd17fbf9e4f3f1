/** Runs a change and appends its audit record (ok or error) with the caller's key id and role. */
import type { FastifyRequest } from 'fastify';
import { callerOf, type ApiContext } from '../context';
import { ApiError } from '../errors';
import type { AuditRecord } from './audit-log';

export async function audited<T>(
  ctx: ApiContext,
  req: FastifyRequest,
  action: string,
  target: string,
  fn: () => Promise<T>,
  detail?: (result: T) => string | undefined,
): Promise<{ result: T; record: AuditRecord }> {
  const { keyId, role } = callerOf(req);
  let result: T;
  try {
    result = await fn();
  } catch (e) {
    const why = e instanceof ApiError ? e.code : 'internal';
    await ctx.audit.append({ keyId, role, action, target, result: 'error', detail: why }).catch((err: Error) => ctx.log.error({ err: err.message }, 'cannot write an audit record'));
    throw e;
  }
  const d = detail?.(result);
  const record = await ctx.audit.append({ keyId, role, action, target, result: 'ok', ...(d ? { detail: d } : {}) });
  return { result, record };
}
