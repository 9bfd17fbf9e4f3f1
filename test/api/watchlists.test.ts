/**
 * Watchlists through a real server, embedded and distributed (real Redis): create, list, get, add/remove
 * identities, activate/deactivate, delete, with the errors that name the field; each change is a gallery change
 * (Redis: a new version) and leaves an audit record. Identities are seeded into the gallery directly (synthetic
 * embeddings): watchlists do not need faces.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { addIdentity } from '../../src/match/gallery';
import { redisUnavailableReason, startRedis, type RedisServer } from '../support/redis';
import { startTestApi, type TestApi } from './helpers';

function unit(seed: number, dim: number): Float32Array {
  const v = new Float32Array(dim);
  for (let i = 0; i < dim; i++) v[i] = Math.sin(seed * 7.1 + i * 1.3);
  return v;
}

for (const mode of ['embedded', 'distributed'] as const) {
  describe(`watchlists (${mode})`, { skip: mode === 'distributed' ? redisUnavailableReason() : undefined }, () => {
    let redis: RedisServer | undefined;
    let api: TestApi;
    before(async () => {
      if (mode === 'distributed') redis = await startRedis();
      api = await startTestApi({ redisUrl: redis?.url });
      await api.ctx.gallery.update((g) => {
        let next = g;
        for (const [k, name] of ['Ann One', 'Bob Two', 'Cy Three'].entries()) next = addIdentity(next, { name, embedder: g.embedder, embeddings: [unit(k, g.dim)] }).gallery;
        return { gallery: next, result: undefined };
      });
    });
    after(async () => {
      await api?.close();
      await redis?.stop();
    });

    test('the whole life of a watchlist', async () => {
      const op = api.keys.operator;
      const v0 = (await api.ctx.gallery.read())!.version;
      const made = await api.call('POST', '/watchlists', { key: op, json: { name: 'vip', identities: ['ann-one'], active: false } });
      assert.equal(made.status, 201, made.text);
      assert.deepEqual(made.body, { name: 'vip', active: false, identities: ['ann-one'] });
      assert.ok((await api.ctx.gallery.read())!.version > v0, 'a watchlist change is a new gallery version');

      const list = await api.call('GET', '/watchlists', { key: api.keys.viewer });
      assert.deepEqual(list.body.watchlists.map((w: { name: string }) => w.name).sort(), ['default', 'vip']);
      const added = await api.call('POST', '/watchlists/vip/identities', { key: op, json: { ids: ['bob-two', 'cy-three', 'bob-two'] } });
      assert.deepEqual(added.body.identities, ['ann-one', 'bob-two', 'cy-three']);
      const removed = await api.call('DELETE', '/watchlists/vip/identities/cy-three', { key: op });
      assert.deepEqual(removed.body.identities, ['ann-one', 'bob-two']);
      assert.equal((await api.call('POST', '/watchlists/vip/activate', { key: op })).body.active, true);
      assert.equal((await api.call('GET', '/watchlists/vip', { key: api.keys.viewer })).body.active, true);
      assert.equal((await api.call('POST', '/watchlists/vip/deactivate', { key: op })).body.active, false);
      // Identity views show their watchlists.
      assert.deepEqual((await api.call('GET', '/identities/bob-two', { key: op })).body.watchlists, ['default', 'vip']);

      const errors: [string, string, unknown, number, string, string | undefined][] = [
        ['POST', '/watchlists', { name: 'vip' }, 409, 'conflict', 'name'],
        ['POST', '/watchlists', { name: 'x', identities: ['nobody'] }, 400, 'unknown-identity', 'identities[0]'],
        ['POST', '/watchlists/vip/identities', { ids: ['ann-one', 'ghost'] }, 400, 'unknown-identity', 'ids[1]'],
        ['POST', '/watchlists/nope/identities', { ids: ['ann-one'] }, 404, 'not-found', 'name'],
        ['DELETE', '/watchlists/vip/identities/cy-three', undefined, 404, 'not-found', 'id'],
        ['POST', '/watchlists/nope/activate', undefined, 404, 'not-found', 'name'],
        ['GET', '/watchlists/nope', undefined, 404, 'not-found', 'name'],
      ];
      for (const [method, route, json, status, code, field] of errors) {
        const r = await api.call(method, route, { key: op, json });
        assert.equal(r.status, status, `${method} ${route}: ${r.text}`);
        assert.equal(r.body.error.code, code, `${method} ${route}`);
        assert.equal(r.body.error.field, field, `${method} ${route}`);
      }

      const del = await api.call('DELETE', '/watchlists/vip', { key: op });
      assert.deepEqual(del.body, { name: 'vip', deleted: true });
      assert.equal((await api.call('GET', '/watchlists/vip', { key: op })).status, 404);
      // Deleting a watchlist never removes identities.
      assert.equal((await api.call('GET', '/identities/ann-one', { key: op })).status, 200);

      const audit = (await api.call('GET', '/audit?target=watchlist:vip&limit=20', { key: api.keys.admin })).body.records.map((r: { action: string; result: string }) => `${r.action}:${r.result}`);
      assert.deepEqual(audit.reverse(), ['watchlist.create:ok', 'watchlist.add:ok', 'watchlist.remove:ok', 'watchlist.activate:ok', 'watchlist.deactivate:ok', 'watchlist.create:error', 'watchlist.add:error', 'watchlist.remove:error', 'watchlist.delete:ok']);
    });
  });
}
