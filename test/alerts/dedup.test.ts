/**
 * Alert claims against a real Redis: SET NX semantics per (alert id, webhook), the owner's own claim, the delivered
 * mark and its TTL, peek without side effects, fast failure while Redis is down (and recovery after it returns),
 * and error texts that never hold the password.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import pino from 'pino';
import { AlertClaims, AlertClaimsError } from '../../src/alerts/dedup';
import { redisUnavailableReason, startRedis, type RedisServer } from '../support/redis';

const SKIP = redisUnavailableReason();
if (SKIP) console.log(`# skipping the alert claims tests: ${SKIP}`);
const quiet = pino({ level: 'silent' });

describe('alert claims (real Redis)', { skip: SKIP, timeout: 120_000 }, () => {
  let redis: RedisServer;
  let raw: Redis;
  const open: AlertClaims[] = [];
  const claims = (owner: string, prefix = 'fs-test:', ttlSec = 600): AlertClaims => {
    const c = new AlertClaims({ url: redis.url, prefix, ttlSec, owner, log: quiet, commandTimeoutMs: 1000, reconnectMaxMs: 200 });
    open.push(c);
    return c;
  };

  before(async () => {
    redis = await startRedis({ persist: true });
    raw = new Redis(redis.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
    raw.on('error', () => undefined); // refused connections while the server is killed on purpose
    await raw.connect();
  });
  after(async () => {
    for (const c of open) await c.close();
    raw?.disconnect();
    await redis?.stop();
  });

  it('claim: first owner wins per (alert, webhook); the owner sees "mine"; delivered wins over everything', async () => {
    const a = claims('inst-a');
    const b = claims('inst-b');
    assert.equal(await a.waitReady(5000), true);
    assert.equal(await b.waitReady(5000), true);
    assert.equal(await a.claim('id-1', 'webhook-x'), 'claimed');
    assert.equal(await a.claim('id-1', 'webhook-x'), 'mine');
    assert.equal(await b.claim('id-1', 'webhook-x'), 'other');
    assert.equal(await b.claim('id-1', 'webhook-y'), 'claimed', 'each webhook is claimed on its own');
    assert.equal(await raw.get('fs-test:alert:id-1:webhook-x'), 'inst-a');
    const ttl = await raw.ttl('fs-test:alert:id-1:webhook-x');
    assert.ok(ttl > 590 && ttl <= 600, `ttl ${ttl}`);

    assert.deepEqual(await b.peek('id-1', ['webhook-x', 'webhook-y', 'webhook-z']), ['other', 'mine', 'free']);
    assert.equal(await raw.exists('fs-test:alert:id-1:webhook-z'), 0, 'peek writes nothing');

    await a.markDelivered('id-1', 'webhook-x');
    assert.equal(await raw.get('fs-test:alert:id-1:webhook-x'), 'delivered:inst-a');
    assert.equal(await a.claim('id-1', 'webhook-x'), 'delivered');
    assert.equal(await b.claim('id-1', 'webhook-x'), 'delivered');
    assert.deepEqual(await a.peek('id-1', ['webhook-x']), ['delivered']);
  });

  it("the owner's claim refreshes the TTL; keys expire after ttlSec", async () => {
    const a = claims('inst-ttl', 'fs-ttl:', 1);
    assert.equal(await a.waitReady(5000), true);
    assert.equal(await a.claim('id-2', 'w'), 'claimed');
    assert.ok((await raw.pttl('fs-ttl:alert:id-2:w')) <= 1000);
    await new Promise((r) => setTimeout(r, 1300));
    assert.equal(await raw.exists('fs-ttl:alert:id-2:w'), 0);
    assert.equal(await a.claim('id-2', 'w'), 'claimed');
  });

  it('Redis down: commands fail fast with AlertClaimsError, health says why; after a restart it works again', async () => {
    const a = claims('inst-down');
    assert.equal(await a.waitReady(5000), true);
    assert.equal(await a.claim('id-3', 'w'), 'claimed');
    assert.equal(a.health().ok, true);
    await redis.kill9();
    await new Promise((r) => setTimeout(r, 300));
    const t0 = Date.now();
    await assert.rejects(a.claim('id-3', 'w'), AlertClaimsError);
    await assert.rejects(a.markDelivered('id-3', 'w'), AlertClaimsError);
    assert.ok(Date.now() - t0 < 2500, `failed in ${Date.now() - t0} ms`);
    assert.equal(a.health().ok, false);
    assert.match(a.health().detail, /alerts stay spooled/);
    await redis.restart();
    await raw.connect().catch(() => undefined);
    assert.equal(await a.waitReady(10_000), true, 'reconnected');
    assert.equal(await a.claim('id-3', 'w'), 'mine', 'the claim survived the restart (AOF)');
  });

  it('errors never show the password', async () => {
    const url = redis.url.replace('redis://', 'redis://:Sup3rS3cretPw@');
    const c = new AlertClaims({ url, prefix: 'p:', ttlSec: 60, owner: 'inst-pw', log: quiet, reconnectMaxMs: 200 });
    open.push(c);
    await c.waitReady(1500); // AUTH fails (no password configured on this server) or it connects
    let text = c.url + c.health().detail;
    try {
      await c.claim('id-4', 'w');
    } catch (err) {
      text += (err as Error).message;
    }
    assert.ok(!text.includes('Sup3rS3cretPw'), text);
    assert.ok(c.url.includes('***@'), c.url);
  });

  it('refuses an owner id that could be mistaken for a delivered mark or holds odd characters', () => {
    assert.throws(() => new AlertClaims({ url: redis.url, prefix: 'p:', ttlSec: 60, owner: 'a b', log: quiet }), AlertClaimsError);
    assert.throws(() => new AlertClaims({ url: redis.url, prefix: 'p:', ttlSec: 60, owner: 'delivered:x', log: quiet }), AlertClaimsError);
  });
});
