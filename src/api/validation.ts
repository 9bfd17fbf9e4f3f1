/**
 * Route schemas are zod schemas; this file plugs them into fastify:
 *   - validatorCompiler: validates body / querystring / params with the route's zod schema; the first problem
 *     becomes a 400 ApiError naming the field ("body.name", "query.limit") and what was expected
 *   - toOpenApi: turns them into JSON Schema for @fastify/swagger, so /openapi.json documents exactly what is
 *     validated
 * A schema that is not a zod schema (e.g. multipartBody() for uploads) is documentation only.
 */
import type { FastifySchemaCompiler } from 'fastify';
import { z } from 'zod';
import { maskUrlsInText } from '../config/mask-text';
import { ApiError } from './errors';

const PART_NAMES: Record<string, string> = { body: 'body', querystring: 'query', params: 'path', headers: 'header' };

export function isZod(s: unknown): s is z.ZodType {
  return s instanceof z.ZodType;
}

function describeReceived(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  // A string that could be a URL or hold credentials (a camera URL given where a name was expected) is never echoed.
  if (typeof value === 'string') return value.length > 40 || /@|:\/\//.test(value) ? `a string of ${value.length} characters` : `"${value}"`;
  if (typeof value === 'object') return 'an object';
  return `${typeof value} ${String(value)}`;
}

function valueAt(data: unknown, path: PropertyKey[]): unknown {
  let v = data;
  for (const k of path) v = v !== null && typeof v === 'object' ? (v as Record<PropertyKey, unknown>)[k] : undefined;
  return v;
}

/** The first zod issue as an ApiError (400) naming the field. */
export function issueToError(issue: z.core.$ZodIssue, part: string, data: unknown, allowed?: string[]): ApiError {
  const where = PART_NAMES[part] ?? part;
  const path = issue.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('').replace(/^\./, '');
  if (issue.code === 'unrecognized_keys') {
    const key = issue.keys[0];
    const field = [path, key].filter(Boolean).join('.');
    const expected = allowed?.length ? ` (expected only: ${allowed.join(', ')})` : '';
    return new ApiError(400, 'unknown-field', `${where}: unknown field "${field}"${expected}`, field);
  }
  const field = path || undefined;
  const value = valueAt(data, issue.path);
  const got = value === undefined ? 'nothing' : describeReceived(value);
  const label = field ? `${where}.${field}` : where;
  return new ApiError(400, 'invalid-request', `${label}: ${issue.message} (got ${got})`, field);
}

function topKeys(schema: z.ZodType): string[] | undefined {
  const shape = (schema as unknown as { shape?: Record<string, unknown> }).shape;
  return shape ? Object.keys(shape) : undefined;
}

export const validatorCompiler: FastifySchemaCompiler<unknown> = ({ schema, httpPart }) => {
  if (!isZod(schema)) return (data) => ({ value: data });
  const part = httpPart ?? 'body';
  const allowed = topKeys(schema);
  return (data) => {
    if (part === 'body' && data === undefined) {
      return { error: new ApiError(400, 'invalid-request', 'body: expected a JSON object (content-type: application/json)') };
    }
    const r = schema.safeParse(data);
    if (r.success) return { value: r.data };
    // Unknown fields first: they explain the other issues best (a typo of a required field).
    const issues = [...r.error.issues].sort((a, b) => (a.code === 'unrecognized_keys' ? -1 : 0) - (b.code === 'unrecognized_keys' ? -1 : 0));
    return { error: issueToError(issues[0], part, data, allowed) };
  };
};

/** JSON Schema for OpenAPI from a route schema part (zod or already JSON Schema). */
export function toJsonSchema(s: unknown, io: 'input' | 'output'): unknown {
  if (!isZod(s)) return s;
  const { $schema: _drop, ...json } = z.toJSONSchema(s, { io, unrepresentable: 'any' }) as Record<string, unknown>;
  return json;
}

/** The @fastify/swagger transform: zod → JSON Schema for every part of every route, and who may call it. */
export function toOpenApi({ schema, url, route }: { schema: Record<string, unknown> | undefined; url: string; route?: { config?: { roles?: readonly string[]; public?: boolean } } }) {
  const out: Record<string, unknown> = { ...schema };
  for (const part of ['body', 'querystring', 'params', 'headers']) if (out[part] !== undefined) out[part] = toJsonSchema(out[part], 'input');
  const response = out.response as Record<string, unknown> | undefined;
  if (response) out.response = Object.fromEntries(Object.entries(response).map(([code, s]) => [code, toJsonSchema(s, 'output')]));
  const cfg = route?.config;
  const who = cfg?.public ? 'No authentication.' : `Roles: ${(cfg?.roles ?? ['admin']).join(', ')}.`;
  out.description = [out.description, who].filter(Boolean).join(' ');
  return { schema: out, url };
}

/** Documentation-only body of a multipart upload: `field` holds one or more image files. */
export function multipartBody(field: string, description: string): Record<string, unknown> {
  return {
    type: 'object',
    required: [field],
    properties: { [field]: { type: 'array', items: { type: 'string', format: 'binary' }, description } },
  };
}

/** The error body every 4xx/5xx uses, for response schemas. */
export const ErrorSchema = z.object({
  error: z.object({ code: z.string(), message: z.string(), field: z.string().optional() }),
});
