/**
 * API keys. A key is `fsk_<id>_<secret>`: id = 16 hex characters (public, names the key in lists, audit records
 * and logs), secret = 256 random bits, base64url. Only SHA-256(key) is stored, with the id, role, label and
 * creation time; the key itself is shown once by `facestream keys create` and never again. Verification looks the
 * record up by id and compares hashes with crypto.timingSafeEqual (an unknown id is compared against a dummy
 * hash, so both paths take the same time).
 *
 * Storage: embedded = `<store>/api-keys.json` (mode 0600, replaced atomically; re-read when it changes on disk, so
 * keys created or revoked by the CLI take effect at once in a running server); distributed = the Redis hash
 * `<prefix>api:keys` (field id → JSON record).
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import path from 'node:path';
import { recordFile } from '../record-file';
import type { ApiRedis } from '../redis-client';

export const ROLES = ['admin', 'operator', 'viewer'] as const;
export type Role = (typeof ROLES)[number];

export interface KeyInfo {
  id: string;
  role: Role;
  label?: string;
  /** ISO 8601. */
  created: string;
}

interface KeyRecord extends KeyInfo {
  /** hex SHA-256 of the whole key. */
  hash: string;
}

export interface KeyStore {
  /** Where keys live (a file path, or the masked Redis URL and hash key). */
  readonly where: string;
  /** A new key; the returned `key` is the only time it exists outside the caller. */
  create(role: Role, label?: string): Promise<{ key: string; info: KeyInfo }>;
  list(): Promise<KeyInfo[]>;
  /** false when there was no such key. */
  revoke(id: string): Promise<boolean>;
  /** The key's record when the key is valid, else undefined. */
  verify(key: string): Promise<KeyInfo | undefined>;
}

export const KEYS_FILE = 'api-keys.json';
const KEY_PATTERN = /^fsk_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/;
const DUMMY_HASH = createHash('sha256').update('facestream-no-such-key').digest();

export function isRole(v: string): v is Role {
  return (ROLES as readonly string[]).includes(v);
}

function newKey(role: Role, label?: string): { key: string; record: KeyRecord } {
  const id = randomBytes(8).toString('hex');
  const key = `fsk_${id}_${randomBytes(32).toString('base64url')}`;
  const record: KeyRecord = { id, role, created: new Date().toISOString(), hash: hashKey(key), ...(label ? { label } : {}) };
  return { key, record };
}

export function hashKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

/** The id of a well-formed key, else undefined. */
export function keyId(key: string): string | undefined {
  return KEY_PATTERN.exec(key)?.[1];
}

/** The secret part of a well-formed key (base64url: it may itself hold '_'), else undefined. */
export function keySecret(key: string): string | undefined {
  return KEY_PATTERN.exec(key)?.[2];
}

function matches(key: string, record: KeyRecord | undefined): boolean {
  const given = createHash('sha256').update(key, 'utf8').digest();
  const stored = record && /^[0-9a-f]{64}$/.test(record.hash) ? Buffer.from(record.hash, 'hex') : DUMMY_HASH;
  return timingSafeEqual(given, stored) && record !== undefined;
}

const info = ({ hash: _h, ...rest }: KeyRecord): KeyInfo => rest;

function parseRecord(raw: unknown, where: string): KeyRecord {
  const r = raw as Partial<KeyRecord>;
  if (!r || typeof r.id !== 'string' || typeof r.hash !== 'string' || typeof r.created !== 'string' || typeof r.role !== 'string' || !isRole(r.role)) {
    throw new Error(`API key store ${where} holds a malformed record (expected {id, role, created, hash})`);
  }
  return { id: r.id, role: r.role, created: r.created, hash: r.hash, ...(typeof r.label === 'string' ? { label: r.label } : {}) };
}

/** Embedded mode: `<dir>/api-keys.json`, 0600. */
export function fileKeyStore(dir: string): KeyStore {
  const file = path.join(path.resolve(dir), KEYS_FILE);
  const records = recordFile(file, 'keys', (r) => parseRecord(r, file));
  return {
    where: file,
    create: (role, label) =>
      records.change((all) => {
        const { key, record } = newKey(role, label);
        return { records: [...all, record], result: { key, info: info(record) } };
      }),
    list: async () => (await records.read()).map(info),
    revoke: (id) =>
      records.change((all) => {
        const rest = all.filter((r) => r.id !== id);
        return rest.length === all.length ? { result: false } : { records: rest, result: true };
      }),
    async verify(key) {
      const id = keyId(key);
      const record = id ? (await records.read()).find((r) => r.id === id) : undefined;
      return matches(key, record) ? info(record!) : undefined;
    },
  };
}

/** Distributed mode: the Redis hash `<prefix>api:keys`. */
export function redisKeyStore(redis: ApiRedis, prefix: string): KeyStore {
  const hash = `${prefix}api:keys`;
  const where = `${redis.scrubber.url} (hash ${hash})`;
  const guard = redis.guard;
  return {
    where,
    create: (role, label) =>
      guard('creating an API key', async () => {
        const { key, record } = newKey(role, label);
        await redis.client.hset(hash, record.id, JSON.stringify(record));
        return { key, info: info(record) };
      }),
    list: () => guard('listing API keys', async () => Object.values(await redis.client.hgetall(hash)).map((v) => info(parseRecord(JSON.parse(v), where))).sort((a, b) => a.created.localeCompare(b.created))),
    revoke: (id) => guard('revoking an API key', async () => (await redis.client.hdel(hash, id)) > 0),
    verify: (key) =>
      guard('checking an API key', async () => {
        const id = keyId(key);
        const raw = id ? await redis.client.hget(hash, id) : null;
        const record = raw ? parseRecord(JSON.parse(raw), where) : undefined;
        return matches(key, record) ? info(record!) : undefined;
      }),
  };
}
