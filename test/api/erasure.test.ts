/**
 * Erasure (DELETE /identities/:id) end to end, embedded and distributed (real Redis): after it, no file of the store
 * directory / no Redis key holds any of the person's embeddings (byte search for every enrolled and negative
 * vector), no in-memory copy (cached gallery, model snapshot) holds the identity, the next recognize of the person's
 * photo names nobody (and never them), the other identities still match, and the audit record exists without
 * biometric data.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { Redis } from 'ioredis';
import { redisUnavailableReason, startRedis, type RedisServer } from '../support/redis';
import { skipWithoutShared } from '../support/shared';
import { lfwImages, lfwPeople, startTestApi, type TestApi } from './helpers';

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = path.join(dir, n);
    return statSync(p).isDirectory() ? filesUnder(p) : [p];
  });
}

/** Every value stored under the prefix, as raw bytes (strings, hashes, streams, lists, sets). */
async function redisValues(client: Redis, prefix: string): Promise<{ key: string; bytes: Buffer }[]> {
  const out: { key: string; bytes: Buffer }[] = [];
  for (const key of await client.keys(`${prefix}*`)) {
    const type = await client.type(key);
    const parts: Buffer[] = [];
    if (type === 'string') parts.push((await client.getBuffer(key))!);
    else if (type === 'hash') for (const [f, v] of Object.entries(await client.hgetallBuffer(key))) parts.push(Buffer.from(f), v);
    else if (type === 'stream') for (const [, fields] of await client.xrangeBuffer(key, '-', '+')) parts.push(...(fields as Buffer[]));
    else if (type === 'list') parts.push(...(await client.lrangeBuffer(key, 0, -1)));
    else if (type === 'set') parts.push(...(await client.smembersBuffer(key)));
    else if (type === 'zset') parts.push(...(await client.zrangeBuffer(key, 0, -1)));
    out.push({ key, bytes: Buffer.concat(parts) });
  }
  return out;
}

/** The 16 first bytes of each float32 vector: enough to find it anywhere, impossible by chance. */
function needles(vectors: Float32Array[]): Buffer[] {
  return vectors.map((v) => Buffer.from(v.buffer, v.byteOffset, 16));
}

for (const mode of ['embedded', 'distributed'] as const) {
  const skip = skipWithoutShared('enrol real faces for the erasure test') || (mode === 'distributed' ? redisUnavailableReason() : undefined);
  describe(`erasure (${mode})`, { skip }, () => {
    let redis: RedisServer | undefined;
    let api: TestApi;
    let client: Redis | undefined;
    let victim: string;
    let keeper: string;
    before(async () => {
      if (mode === 'distributed') {
        redis = await startRedis();
        client = new Redis(redis.url);
      }
      // LFW photos often show other people behind the subject: take the central face, as evaluation does.
      api = await startTestApi({ redisUrl: redis?.url, config: { api: { facePolicy: 'central' } } });
      [victim, keeper] = lfwPeople(2);
    });
    after(async () => {
      client?.disconnect();
      await api?.close();
      await redis?.stop();
    });

    test('DELETE /identities/:id leaves no embedding anywhere and the person can no longer be recognised', async () => {
      const admin = api.keys.admin;
      const ids: Record<string, string> = {};
      for (const p of [victim, keeper]) {
        ids[p] = (await api.call('POST', '/identities', { key: admin, json: { name: p, metadata: { note: `erasure test of ${p}` } } })).body.id;
        const r = await api.call('POST', `/identities/${ids[p]}/images`, { key: admin, files: lfwImages(p).slice(0, 3).map((b, i) => ['images', `${i}.jpg`, b] as [string, string, Buffer]) });
        assert.equal(r.body.accepted, 3, r.text);
      }
      const id = ids[victim];
      assert.equal((await api.call('POST', `/identities/${id}/negatives`, { key: admin, files: [['images', 'n.jpg', lfwImages(keeper)[3]]] })).status, 200);
      await api.call('POST', '/watchlists', { key: admin, json: { name: 'vip', identities: [id, ids[keeper]] } });
      const probe = lfwImages(victim)[4];
      const recognizeVictim = async () => (await api.call('POST', '/recognize', { key: admin, files: [['image', 'p.jpg', probe]] })).body.faces[0].match;
      const before = await recognizeVictim();
      assert.equal(before.identity, id, 'the person is recognised before erasure');
      assert.ok(api.ctx.gallery.holdsInMemory(id));

      const stored = (await api.ctx.gallery.read())!.identities.find((i) => i.id === id)!;
      const vectors = needles([...stored.embeddings, ...stored.negatives]);
      assert.equal(vectors.length, 4);
      const holders = async (): Promise<string[]> => {
        if (mode === 'embedded') return filesUnder(api.dir).filter((f) => { const b = readFileSync(f); return vectors.some((n) => b.includes(n)); });
        return (await redisValues(client!, api.ctx.config.redis.prefix)).filter((v) => vectors.some((n) => v.bytes.includes(n))).map((v) => v.key);
      };
      assert.ok((await holders()).length > 0, 'the byte search finds the embeddings before erasure');

      const del = await api.call('DELETE', `/identities/${id}`, { key: admin });
      assert.equal(del.status, 200, del.text);
      assert.equal(del.body.erased, true);
      assert.equal(del.body.audit.action, 'identity.erase');

      assert.deepEqual(await holders(), [], 'no stored byte of any of its embeddings is left');
      assert.equal(api.ctx.gallery.holdsInMemory(id), false, 'no in-memory copy holds the identity');
      if (mode === 'distributed') {
        const keys = await client!.keys(`${api.ctx.config.redis.prefix}*`);
        assert.ok(!keys.some((k) => k.endsWith(`identity:${id}`)), keys.join(', '));
        assert.equal(await client!.hget(`${api.ctx.config.redis.prefix}api:identities`, id), null);
      } else {
        const files = filesUnder(api.dir).map((f) => readFileSync(f, 'utf8'));
        assert.ok(!files.some((t) => t.includes(`erasure test of ${victim}`)), 'the identity record (metadata) is gone too');
      }
      assert.equal((await api.call('GET', `/identities/${id}`, { key: admin })).status, 404);
      assert.deepEqual((await api.call('GET', '/watchlists/vip', { key: admin })).body.identities, [ids[keeper]]);

      const after1 = await recognizeVictim();
      assert.notEqual(after1.identity, id);
      assert.equal(after1.accepted, false, JSON.stringify(after1));
      const keeperMatch = (await api.call('POST', '/recognize', { key: admin, files: [['image', 'k.jpg', lfwImages(keeper)[4]]] })).body.faces[0].match;
      assert.equal(keeperMatch.identity, ids[keeper], 'the other identities still match (retrained)');

      const audit = (await api.call('GET', `/audit?target=identity:${id}&action=identity.erase`, { key: admin })).body.records;
      assert.equal(audit.length, 1);
      const rec = audit[0];
      assert.deepEqual(Object.keys(rec).sort(), ['action', 'at', 'detail', 'keyId', 'result', 'role', 'target']);
      assert.equal(rec.result, 'ok');
      assert.equal(rec.role, 'admin');
      assert.match(rec.detail, /embeddings and negatives removed/);
      assert.ok(!JSON.stringify(rec).includes(admin), 'the audit record names the key id, never the key');

      // Erasing again: 404, audited as an error.
      const again = await api.call('DELETE', `/identities/${id}`, { key: admin });
      assert.equal(again.status, 404);
    });
  });
}
