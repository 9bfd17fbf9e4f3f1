/**
 * One ioredis connection for the API's own Redis data (keys, audit, rate limits) in distributed mode. Its errors
 * are logged with the URL masked and the password scrubbed (ioredis errors can quote both), once per distinct error.
 */
import { Redis } from 'ioredis';
import type { Logger } from '../util/log';
import { redisUrlScrubber, type RedisUrlScrubber } from '../util/redis-url';

export interface ApiRedis {
  readonly client: Redis;
  readonly scrubber: RedisUrlScrubber;
  /** An Error for `what` failing, with the message scrubbed. */
  fail(what: string, e: unknown): Error;
  /** Runs `fn`; a failure becomes fail(op, e). */
  guard<T>(op: string, fn: () => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

export function openApiRedis(url: string, log: Logger, what = 'api redis'): ApiRedis {
  const scrubber = redisUrlScrubber(url, what);
  const client = new Redis(url, {
    maxRetriesPerRequest: 2,
    connectTimeout: 5000,
    commandTimeout: 5000,
    retryStrategy: (times) => Math.min(100 * 2 ** Math.min(times, 10), 2000),
    lazyConnect: false,
  });
  let last = '';
  client.on('error', (e: unknown) => {
    const msg = scrubber.scrub(e instanceof Error ? e.message : String(e));
    if (msg !== last) log.warn({ url: scrubber.url, error: msg }, `${what} connection error`);
    last = msg;
  });
  client.on('ready', () => {
    last = '';
  });
  const fail = (op: string, e: unknown) => new Error(`${what} ${scrubber.url}: ${op} failed: ${scrubber.scrub(e instanceof Error ? e.message : String(e))}`);
  return {
    client,
    scrubber,
    fail,
    async guard(op, fn) {
      try {
        return await fn();
      } catch (e) {
        throw fail(op, e);
      }
    },
    async close() {
      await client.quit().catch(() => client.disconnect());
    },
  };
}
