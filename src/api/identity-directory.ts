/**
 * What the API knows about an identity besides its embeddings: display name, free-form metadata and when it was
 * created. The gallery (local store or Redis) holds the embeddings and the name; an identity created through the API
 * exists here from POST /identities on and joins the gallery with its first accepted face.
 *
 * Embedded: `<store>/api-identities.json` (0600). Distributed: the Redis hash `<prefix>api:identities`.
 * Holds no biometric data; erasure removes the record too.
 */
import path from 'node:path';
import type { ApiRedis } from './redis-client';
import { recordFile } from './record-file';

export type Metadata = Record<string, string | number | boolean | null>;

export interface IdentityRecord {
  id: string;
  name: string;
  displayName?: string;
  metadata?: Metadata;
  /** ISO 8601. */
  createdAt: string;
  updatedAt?: string;
}

export interface IdentityDirectory {
  list(): Promise<IdentityRecord[]>;
  get(id: string): Promise<IdentityRecord | undefined>;
  /** Creates or replaces. */
  put(record: IdentityRecord): Promise<void>;
  /** false when there was none. */
  remove(id: string): Promise<boolean>;
}

export const IDENTITIES_FILE = 'api-identities.json';

function parse(raw: unknown, where: string): IdentityRecord {
  const r = raw as Partial<IdentityRecord> | null;
  if (!r || typeof r.id !== 'string' || typeof r.name !== 'string' || typeof r.createdAt !== 'string') {
    throw new Error(`identity directory ${where} holds a malformed record (expected {id, name, createdAt})`);
  }
  return r as IdentityRecord;
}

export function fileIdentityDirectory(dir: string): IdentityDirectory {
  const file = path.join(path.resolve(dir), IDENTITIES_FILE);
  const records = recordFile(file, 'identities', (r) => parse(r, file));
  return {
    list: () => records.read(),
    get: async (id) => (await records.read()).find((r) => r.id === id),
    put: (record) => records.change((all) => ({ records: [...all.filter((r) => r.id !== record.id), record], result: undefined })),
    remove: (id) =>
      records.change((all) => {
        const rest = all.filter((r) => r.id !== id);
        return rest.length === all.length ? { result: false } : { records: rest, result: true };
      }),
  };
}

export function redisIdentityDirectory(redis: ApiRedis, prefix: string): IdentityDirectory {
  const hash = `${prefix}api:identities`;
  const guard = redis.guard;
  return {
    list: () => guard('listing identities', async () => Object.values(await redis.client.hgetall(hash)).map((v) => parse(JSON.parse(v), hash))),
    get: (id) =>
      guard('reading an identity', async () => {
        const v = await redis.client.hget(hash, id);
        return v ? parse(JSON.parse(v), hash) : undefined;
      }),
    put: (record) => guard('writing an identity', async () => void (await redis.client.hset(hash, record.id, JSON.stringify(record)))),
    remove: (id) => guard('removing an identity', async () => (await redis.client.hdel(hash, id)) > 0),
  };
}
