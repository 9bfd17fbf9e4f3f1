/**
 * Authentication and roles against a real server: 401 without a valid key (missing, malformed, unknown, revoked),
 * 403 for every route a role may not call and never 401/403 for the ones it may, derived for EVERY route the server
 * documents (the OpenAPI paths) from the policy: admin everything; operator cameras, watchlists, recognize, alerts
 * and every read except the audit log; viewer reads only (no recognize, no audit). Keys stored hashed (0600 file /
 * Redis hash), rate limits per key, ops endpoints open. Embedded and distributed (real Redis).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { Redis } from 'ioredis';
import { KEYS_FILE, keySecret, type Role } from '../../src/api/auth/keys';
import { redisUnavailableReason, startRedis, type RedisServer } from '../support/redis';
import { startTestApi, type TestApi } from './helpers';

const OPERATOR_WRITES = /^\/(cameras|watchlists|recognize|alerts)(\/|$)/;

function allowed(role: Role, method: string, route: string): boolean {
  if (role === 'admin') return true;
  if (route === '/audit') return false;
  if (method === 'GET') return true;
  return role === 'operator' && OPERATOR_WRITES.test(route);
}

async function documentedRoutes(api: TestApi): Promise<[string, string][]> {
  const doc = (await api.call('GET', '/openapi.json', { key: api.keys.viewer })).body;
  const out: [string, string][] = [['GET', '/openapi.json'], ['GET', '/audit']];
  for (const [p, ops] of Object.entries(doc.paths as Record<string, object>)) for (const m of Object.keys(ops)) out.push([m.toUpperCase(), p]);
  return [...new Map(out.map((r) => [r.join(' '), r])).values()];
}

const concrete = (p: string) => p.replace(/\{[^}]+\}/g, 'nobody-here');

for (const mode of ['embedded', 'distributed'] as const) {
  const skip = mode === 'distributed' ? redisUnavailableReason() : undefined;
  describe(`API authentication and roles (${mode})`, { skip }, () => {
    let redis: RedisServer | undefined;
    let api: TestApi;
    before(async () => {
      if (mode === 'distributed') redis = await startRedis();
      api = await startTestApi({ redisUrl: redis?.url });
    });
    after(async () => {
      await api?.close();
      await redis?.stop();
    });

    test('ops endpoints need no key; everything else answers 401 with the error format', async () => {
      for (const p of ['/healthz', '/readyz', '/metrics']) assert.equal((await api.call('GET', p)).status, 200, p);
      const cases: [string, Record<string, string>][] = [
        ['no header', {}],
        ['basic auth', { authorization: 'Basic YWRtaW46YWRtaW4=' }],
        ['empty bearer', { authorization: 'Bearer ' }],
        ['garbage key', { authorization: 'Bearer not-a-key' }],
        ['unknown well-formed key', { authorization: `Bearer fsk_0123456789abcdef_${'A'.repeat(43)}` }],
        ['right id, wrong secret', { authorization: `Bearer ${api.keys.admin.slice(0, -4)}AAAA` }],
      ];
      for (const [what, headers] of cases) {
        for (const [method, route] of [['GET', '/identities'], ['POST', '/identities'], ['GET', '/openapi.json'], ['GET', '/no-such-endpoint']]) {
          const r = await api.call(method, route, { headers });
          assert.equal(r.status, 401, `${what}: ${method} ${route}`);
          assert.equal(r.body.error.code, 'unauthorized');
          assert.match(r.body.error.message, /Authorization: Bearer <key>/);
          assert.match(r.headers.get('www-authenticate') ?? '', /^Bearer/);
        }
      }
    });

    test('every documented route: each role gets 403 exactly where the policy forbids it', async () => {
      const routes = await documentedRoutes(api);
      assert.ok(routes.length >= 15, `expected the whole API to be documented, got ${routes.length} routes`);
      let forbidden = 0;
      let permitted = 0;
      for (const [method, route] of routes) {
        for (const role of ['admin', 'operator', 'viewer'] as const) {
          const r = await api.call(method, concrete(route), { key: api.keys[role] });
          assert.notEqual(r.status, 401, `${role} ${method} ${route}`);
          if (allowed(role, method, route)) {
            permitted++;
            assert.notEqual(r.status, 403, `${role} may call ${method} ${route}: ${r.text}`);
          } else {
            forbidden++;
            assert.equal(r.status, 403, `${role} must not call ${method} ${route}: got ${r.status} ${r.text}`);
            assert.equal(r.body.error.code, 'forbidden');
            assert.ok(r.body.error.message.includes(`role "${role}"`), r.body.error.message);
          }
        }
      }
      assert.ok(forbidden >= 10 && permitted >= 20, `${forbidden} forbidden, ${permitted} permitted calls`);
    });

    test('the identity routes: viewer and operator read, only admin writes', async () => {
      const create = (role: Role) => api.call('POST', '/identities', { key: api.keys[role], json: { name: `By ${role}` } });
      assert.equal((await create('viewer')).status, 403);
      assert.equal((await create('operator')).status, 403);
      const made = await create('admin');
      assert.equal(made.status, 201);
      for (const role of ['viewer', 'operator'] as const) {
        assert.equal((await api.call('GET', `/identities/${made.body.id}`, { key: api.keys[role] })).status, 200);
        assert.equal((await api.call('DELETE', `/identities/${made.body.id}`, { key: api.keys[role] })).status, 403);
        assert.equal((await api.call('PATCH', `/identities/${made.body.id}`, { key: api.keys[role], json: { displayName: 'x' } })).status, 403);
      }
      // The operator manages watchlists; the viewer cannot.
      assert.equal((await api.call('POST', '/watchlists', { key: api.keys.viewer, json: { name: 'vip' } })).status, 403);
      assert.equal((await api.call('POST', '/watchlists', { key: api.keys.operator, json: { name: 'vip' } })).status, 201);
      assert.equal((await api.call('DELETE', `/identities/${made.body.id}`, { key: api.keys.admin })).status, 200);
    });

    test('keys are stored hashed; a revoked key stops working at once', async () => {
      const { key, info } = await api.ctx.keys.create('operator', 'temporary');
      if (mode === 'embedded') {
        const file = path.join(api.dir, 'store', KEYS_FILE);
        assert.equal(statSync(file).mode & 0o777, 0o600);
        const text = readFileSync(file, 'utf8');
        assert.ok(!text.includes(key) && !text.includes(keySecret(key)!), 'the key file must not hold a key');
        assert.ok(text.includes(info.id));
      } else {
        const client = new Redis(redis!.url);
        try {
          const all = JSON.stringify(await client.hgetall(`${api.ctx.config.redis.prefix}api:keys`));
          assert.ok(all.includes(info.id) && !all.includes(keySecret(key)!), 'Redis must hold the hash, not the key');
        } finally {
          client.disconnect();
        }
      }
      assert.equal((await api.call('GET', '/watchlists', { key })).status, 200);
      assert.equal(await api.ctx.keys.revoke(info.id), true);
      const r = await api.call('GET', '/watchlists', { key });
      assert.equal(r.status, 401);
      assert.match(r.body.error.message, /invalid or revoked/);
      assert.ok(!(await api.ctx.keys.list()).some((k) => k.id === info.id));
    });
  });
}

for (const mode of ['embedded', 'distributed'] as const) {
  describe(`API rate limit per key (${mode}${mode === 'distributed' ? ': counters in Redis, shared by replicas' : ''})`, { skip: mode === 'distributed' ? redisUnavailableReason() : undefined }, () => {
    let redis: RedisServer | undefined;
    let api: TestApi;
    let replica: TestApi | undefined;
    before(async () => {
      if (mode === 'distributed') redis = await startRedis();
      const options = { redisUrl: redis?.url, prefix: 'rl:', config: { api: { rateLimit: { max: 3, windowMs: 60_000 } } } };
      api = await startTestApi(options);
      // A second API process on the same Redis: same keys, same counters.
      if (redis) replica = await startTestApi(options);
    });
    after(async () => {
      await replica?.close();
      await api?.close();
      await redis?.stop();
    });

    test('the 4th request of a key in the window gets 429; another key and the probes are unaffected', async () => {
      for (let i = 0; i < 3; i++) {
        const target = replica && i === 2 ? replica : api;
        assert.equal((await target.call('GET', '/watchlists', { key: api.keys.viewer })).status, 200);
      }
      const r = await (replica ?? api).call('GET', '/watchlists', { key: api.keys.viewer });
      assert.equal(r.status, 429);
      assert.equal(r.body.error.code, 'rate-limited');
      assert.match(r.body.error.message, /rate limit of 3 requests/);
      assert.ok(Number(r.headers.get('retry-after')) > 0);
      assert.equal((await api.call('GET', '/watchlists', { key: api.keys.operator })).status, 200);
      for (let i = 0; i < 5; i++) assert.equal((await api.call('GET', '/healthz')).status, 200);
    });
  });
}

describe('Redis unreachable (distributed)', { skip: redisUnavailableReason() }, () => {
  let redis: RedisServer;
  let api: TestApi;
  before(async () => {
    redis = await startRedis({ persist: true });
    api = await startTestApi({ redisUrl: redis.url });
  });
  after(async () => {
    await api?.close();
    await redis?.stop();
  });

  test('probes answer, calls get 503 in the error format, and all works again when Redis is back', async () => {
    assert.equal((await api.call('GET', '/watchlists', { key: api.keys.viewer })).status, 200);
    await redis.sigterm();
    assert.equal((await api.call('GET', '/healthz')).status, 200);
    const ready = await api.call('GET', '/readyz');
    assert.equal(ready.status, 503);
    assert.equal(ready.body.checks.gallery.ok, false);
    const r = await api.call('GET', '/watchlists', { key: api.keys.viewer });
    assert.equal(r.status, 503, r.text);
    assert.equal(r.body.error.code, 'unavailable');
    await redis.restart();
    let status = 0;
    for (let i = 0; i < 50 && status !== 200; i++) {
      status = (await api.call('GET', '/watchlists', { key: api.keys.viewer })).status;
      if (status !== 200) await new Promise((res) => setTimeout(res, 200));
    }
    assert.equal(status, 200, 'the API recovers when Redis is back');
  });
});
