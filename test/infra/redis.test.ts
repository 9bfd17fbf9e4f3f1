/**
 * Smoke tests of the real Redis that scripts/redis.sh runs (facestream's distributed mode caches the gallery in it):
 * set/get through ioredis, restart on the same port with and without persistence, SIGKILL with an fsynced AOF.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { portAccepts } from '../support/infra-script';
import { RedisServer, redisUnavailableReason, startRedis } from '../support/redis';

const SKIP = redisUnavailableReason();
if (SKIP) console.log(`# skipping the real-Redis tests: ${SKIP}`);

function client(server: RedisServer): Redis {
  const c = new Redis(server.url, { maxRetriesPerRequest: 50, retryStrategy: (times) => Math.min(times * 50, 500) });
  c.on('error', () => undefined); // connection errors while the server is down are expected; commands are retried
  return c;
}

describe('real Redis (scripts/redis.sh)', { skip: SKIP, timeout: 60_000 }, () => {
  const servers: RedisServer[] = [];
  const clients: Redis[] = [];
  after(async () => {
    for (const c of clients) c.disconnect();
    for (const s of servers) await s.stop();
  });

  test('set/get; a restart on the same port starts empty (no persistence) and the client reconnects', async () => {
    const server = await startRedis();
    servers.push(server);
    assert.match(server.url, /^redis:\/\/127\.0\.0\.1:\d+$/);
    const c = client(server);
    clients.push(c);
    assert.equal(await c.set('gallery:version', '42'), 'OK');
    assert.equal(await c.get('gallery:version'), '42');
    await c.hset('gallery:person:1', { name: 'Ada', embeddings: '3' });
    assert.deepEqual(await c.hgetall('gallery:person:1'), { name: 'Ada', embeddings: '3' });

    await server.restart();
    assert.equal(await c.get('gallery:version'), null);
    assert.equal(await c.dbsize(), 0);
    assert.equal(await c.set('gallery:version', '43'), 'OK');
    assert.equal(await c.get('gallery:version'), '43');
  });

  test('with persistence, acknowledged writes survive SIGKILL + restart', async () => {
    const server = await startRedis({ persist: true });
    servers.push(server);
    const c = client(server);
    clients.push(c);
    await c.set('gallery:version', '7');
    await c.rpush('alerts', 'a', 'b', 'c');

    await server.kill9();
    assert.equal(await portAccepts(server.port), false, `127.0.0.1:${server.port} still accepts connections after SIGKILL`);
    await server.restart();
    assert.equal(await c.get('gallery:version'), '7');
    assert.deepEqual(await c.lrange('alerts', 0, -1), ['a', 'b', 'c']);
  });
});
