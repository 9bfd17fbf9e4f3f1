/**
 * The audit log of changes made through the API: who (key id and role, never the key), when, what, on which
 * target, and the result. Records hold no biometric data (no embeddings, no images) and no secrets.
 *
 * Embedded: `<store>/audit.jsonl`, append-only, mode 0600, each record fsynced. Distributed: the Redis stream
 * `<prefix>api:audit` (never trimmed by facestream).
 */
import { constants as fsc, promises as fs } from 'node:fs';
import path from 'node:path';
import type { Role } from '../auth/keys';
import type { ApiRedis } from '../redis-client';

export interface AuditRecord {
  /** ISO 8601. */
  at: string;
  keyId: string;
  role: Role;
  /** e.g. "identity.delete", "identity.enrol", "watchlist.create". */
  action: string;
  /** e.g. "identity:alice", "watchlist:vip". */
  target: string;
  result: 'ok' | 'error';
  /** Short non-sensitive detail (counts, the new gallery version, an error code). */
  detail?: string;
}

export interface AuditQuery {
  limit: number;
  /** Only records of this target. */
  target?: string;
  action?: string;
}

export interface AuditLog {
  readonly where: string;
  append(record: Omit<AuditRecord, 'at'>): Promise<AuditRecord>;
  /** Newest first. */
  list(query: AuditQuery): Promise<AuditRecord[]>;
}

export const AUDIT_FILE = 'audit.jsonl';

function filter(records: AuditRecord[], q: AuditQuery): AuditRecord[] {
  const out: AuditRecord[] = [];
  for (let i = records.length - 1; i >= 0 && out.length < q.limit; i--) {
    const r = records[i];
    if ((q.target === undefined || r.target === q.target) && (q.action === undefined || r.action === q.action)) out.push(r);
  }
  return out;
}

export function fileAuditLog(dir: string): AuditLog {
  const file = path.join(path.resolve(dir), AUDIT_FILE);
  let writes: Promise<unknown> = Promise.resolve();
  return {
    where: file,
    append(partial) {
      const record: AuditRecord = { at: new Date().toISOString(), ...partial };
      const run = writes.then(async () => {
        await fs.mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
        const fh = await fs.open(file, fsc.O_WRONLY | fsc.O_APPEND | fsc.O_CREAT, 0o600);
        try {
          await fh.chmod(0o600);
          await fh.write(`${JSON.stringify(record)}\n`);
          await fh.sync();
        } finally {
          await fh.close();
        }
        return record;
      });
      writes = run.catch(() => undefined);
      return run;
    },
    async list(q) {
      let text = '';
      try {
        text = await fs.readFile(file, 'utf8');
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      }
      const records = text
        .split('\n')
        .filter((l) => l.trim())
        .map((l) => JSON.parse(l) as AuditRecord);
      return filter(records, q);
    },
  };
}

export function redisAuditLog(redis: ApiRedis, prefix: string): AuditLog {
  const stream = `${prefix}api:audit`;
  return {
    where: `${redis.scrubber.url} (stream ${stream})`,
    async append(partial) {
      const record: AuditRecord = { at: new Date().toISOString(), ...partial };
      await redis.guard('writing an audit record', () => redis.client.xadd(stream, '*', 'record', JSON.stringify(record)));
      return record;
    },
    async list(q) {
      // Filters apply after reading: read a generous window of the newest entries.
      const entries = await redis.guard('reading the audit log', () => redis.client.xrevrange(stream, '+', '-', 'COUNT', q.target || q.action ? Math.max(q.limit * 50, 1000) : q.limit));
      const records = entries.map(([, fields]) => JSON.parse(fields[fields.indexOf('record') + 1]) as AuditRecord).reverse();
      return filter(records, q);
    },
  };
}
