/**
 * The gallery commands' Redis store (`--store redis://…`) against a REAL redis-server:
 * - the store API: nothing stored → undefined; a save stores the gallery WITH its model (trained on save), a save
 *   that leaves the identities untouched keeps the stored model; a save over a version another writer changed
 *   fails and writes nothing; credentials never shown;
 * - the real CLI: `enroll --store redis://…` (real faces of ../shared/data/lfw-dev), `watchlist create`,
 *   `watchlist list` and `calibrate`, each exiting on its own, while a GalleryFollower (what the match services
 *   run) sees every version with a model it can build a matcher from, without training.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { addIdentity, createWatchlist } from '../../src/match/gallery';
import { buildMatcher } from '../../src/match/matcher';
import { isRedisStoreUrl, openRedisGalleryStore } from '../../src/match/redis-gallery-store';
import { GalleryFollower, openRedisGallery, type GallerySnapshot } from '../../src/match/redis-store';
import { galleryShape, sameShape } from '../../src/match/svm';
import { projectRoot } from '../../src/util/paths';
import { redisUnavailableReason, startRedis, type RedisServer } from '../support/redis';
import { sharedDir, skipWithoutShared } from '../support/shared';
import { testLogger } from '../services/helpers';
import { EMBEDDER, face, makeWorld, randomUnit, rng } from './synthetic';

const SKIP = redisUnavailableReason();
if (SKIP) console.log(`# skipping the Redis gallery store tests: ${SKIP}`);
const CLI = path.join(projectRoot(), 'dist', 'src', 'cli', 'main.js');

let n = 0;
const uniquePrefix = () => `rgs-${process.pid}-${++n}:`;

function runCli(args: string[], env: NodeJS.ProcessEnv, timeoutMs = 180_000): Promise<{ code: number; stdout: string; stderr: string; ms: number }> {
  const t0 = Date.now();
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { env: { ...process.env, FACESTREAM_LOG_LEVEL: 'warn', ...env }, timeout: timeoutMs, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : -1) : 0;
      resolve({ code, stdout, stderr, ms: Date.now() - t0 });
    });
  });
}

describe('Redis gallery store of the gallery commands (real Redis)', { skip: SKIP, timeout: 400_000 }, () => {
  let redis: RedisServer;

  before(async () => {
    redis = await startRedis();
  });

  after(async () => {
    await redis?.stop();
  });

  test('store values: redis:// and rediss:// select Redis; the URL is shown masked', () => {
    assert.equal(isRedisStoreUrl('redis://127.0.0.1:6379'), true);
    assert.equal(isRedisStoreUrl('rediss://u:p@host:6380/2'), true);
    assert.equal(isRedisStoreUrl('facestream-data/store'), false);
    assert.equal(isRedisStoreUrl('./redis://x'), false);
    const s = openRedisGalleryStore('redis://admin:s3cr3t-pw@127.0.0.1:1/0');
    assert.ok(!s.dir.includes('s3cr3t') && !s.url.includes('s3cr3t'), s.dir);
    assert.match(s.dir, /redis:\/\/\*\*\*@127\.0\.0\.1:1\/0/);
    assert.throws(() => openRedisGalleryStore('/tmp/dir'), /not a redis:\/\/ or rediss:\/\/ URL/);
  });

  test('load/save: the model is stored with the gallery, kept when only watchlists change; a concurrent change is never overwritten', async () => {
    const prefix = uniquePrefix();
    const r = rng(5);
    const g0 = makeWorld(r, 5, 3).gallery;
    const a = openRedisGalleryStore(redis.url, { prefix });
    assert.equal(await a.load(), undefined);
    await a.save(g0);
    assert.equal(a.trainedOnSave, true);
    assert.equal(a.storedVersion, 1);

    const raw = openRedisGallery(redis.url, { prefix, log: testLogger() });
    try {
      const s1 = await raw.load();
      assert.equal(s1?.version, 1);
      assert.ok(s1?.model && sameShape(s1.model.shape, galleryShape(s1.gallery)), 'a model that fits the stored gallery');

      // A watchlist change: the stored model is kept as it is (no training).
      const b = openRedisGalleryStore(redis.url, { prefix });
      const gb = (await b.load())!;
      await b.save(createWatchlist(gb, 'vip', { identities: [gb.identities[0].id] }));
      assert.equal(b.trainedOnSave, false);
      const s2 = await raw.load();
      assert.equal(s2?.version, 2);
      assert.deepEqual(s2?.model?.weights, s1.model.weights, 'the same model');
      assert.deepEqual(s2?.gallery.watchlists.find((w) => w.name === 'vip')?.identities, [gb.identities[0].id]);

      // Two writers read v2; the first saves; the second must not overwrite it.
      const c = openRedisGalleryStore(redis.url, { prefix });
      const d = openRedisGalleryStore(redis.url, { prefix });
      const gc = (await c.load())!;
      const gd = (await d.load())!;
      await c.save(addIdentity(gc, { name: 'Carol', embedder: EMBEDDER, embeddings: [face(r, randomUnit(r))] }).gallery);
      assert.equal(c.trainedOnSave, true, 'new identity: trained on save');
      await assert.rejects(
        d.save(addIdentity(gd, { name: 'Dave', embedder: EMBEDDER, embeddings: [face(r, randomUnit(r))] }).gallery),
        /changed since this command read it \(stored version 3, read 2\).*nothing was written/,
      );
      const s3 = await raw.load();
      assert.equal(s3?.version, 3);
      assert.ok(s3?.gallery.identities.some((i) => i.id === 'carol') && !s3.gallery.identities.some((i) => i.id === 'dave'));
      assert.ok(s3?.model && sameShape(s3.model.shape, galleryShape(s3.gallery)));
    } finally {
      await raw.close();
    }
  });

  test('the CLI (enroll, watchlist, calibrate) with --store redis://… writes what a GalleryFollower sees, with a model', { skip: skipWithoutShared('enrol real faces') }, async () => {
    const prefix = uniquePrefix();
    const shared = sharedDir()!;
    const people = readdirSync(path.join(shared, 'data', 'lfw-dev')).sort().slice(0, 2);
    const dir = mkdtempSync(path.join(os.tmpdir(), 'facestream-rgs-'));
    try {
      for (const p of people) {
        mkdirSync(path.join(dir, 'gallery', p), { recursive: true });
        for (const f of readdirSync(path.join(shared, 'data', 'lfw-dev', p)).sort().slice(0, 3)) copyFileSync(path.join(shared, 'data', 'lfw-dev', p, f), path.join(dir, 'gallery', p, f));
      }
      const unknown = path.join(dir, 'unknown');
      mkdirSync(unknown);
      for (const p of readdirSync(path.join(shared, 'data', 'lfw-dev-unknown')).sort().slice(0, 6)) {
        const f = readdirSync(path.join(shared, 'data', 'lfw-dev-unknown', p)).sort()[0];
        copyFileSync(path.join(shared, 'data', 'lfw-dev-unknown', p, f), path.join(unknown, f));
      }
      const env = { FACESTREAM_REDIS__PREFIX: prefix };
      const store = openRedisGallery(redis.url, { prefix, log: testLogger() });
      const follower = new GalleryFollower(store, { log: testLogger(), pollMs: 0 });
      const seen: GallerySnapshot[] = [];
      follower.on('swap', (s: GallerySnapshot) => seen.push(s));
      try {
        assert.equal(await follower.start(), undefined, 'nothing stored yet');

        const enroll = await runCli(['enroll', '--gallery', path.join(dir, 'gallery'), '--store', redis.url, '--json'], env);
        assert.equal(enroll.code, 0, enroll.stderr);
        const v1 = await follower.waitFor((s) => s.version === 1, 10_000);
        assert.deepEqual(v1.gallery.identities.map((i) => i.name), people);
        assert.ok(v1.gallery.identities.every((i) => i.embeddings.length === 3));
        assert.deepEqual(v1.gallery.watchlists, [{ name: 'default', identities: v1.gallery.identities.map((i) => i.id), active: true }]);
        assert.ok(v1.model, 'the model was stored with the gallery');
        const m1 = buildMatcher(v1.gallery, v1.model); // what a matcher does with it: no training
        assert.equal(m1.identityCount, 2);
        // An enrolled photo matches its identity.
        assert.equal(m1.match(v1.gallery.identities[0].embeddings[0]).identity, v1.gallery.identities[0].id);

        const wl = await runCli(['watchlist', 'create', 'vip', '--identities', people[0], '--store', redis.url], env);
        assert.equal(wl.code, 0, wl.stderr);
        assert.match(wl.stdout, /watchlist vip: active, 1 identities/);
        const v2 = await follower.waitFor((s) => s.version === 2, 10_000);
        assert.deepEqual(v2.gallery.watchlists.find((w) => w.name === 'vip')?.identities, [v1.gallery.identities[0].id]);
        assert.deepEqual(v2.model?.weights, v1.model.weights, 'a watchlist change keeps the stored model');

        const list = await runCli(['watchlist', 'list', '--json', '--store', redis.url], env);
        assert.equal(list.code, 0, list.stderr);
        assert.deepEqual((JSON.parse(list.stdout) as { name: string }[]).map((w) => w.name).sort(), ['default', 'vip']);

        const cal = await runCli(['calibrate', '--unknown', unknown, '--target-fpir', '0.2', '--store', redis.url, '--json'], env);
        assert.equal(cal.code, 0, cal.stderr);
        const v3 = await follower.waitFor((s) => s.version === 3, 10_000);
        assert.equal(v3.gallery.thresholds.targetFpir, 0.2);
        assert.equal(v3.gallery.thresholds.calibrationSize, 6);
        assert.ok(v3.model && sameShape(v3.model.shape, galleryShape(v3.gallery)));
        assert.deepEqual(seen.map((s) => s.version), [1, 2, 3]);
        console.log(`# CLI against redis: enroll ${enroll.ms} ms, watchlist create ${wl.ms} ms, watchlist list ${list.ms} ms, calibrate ${cal.ms} ms (each exited on its own)`);
        for (const out of [enroll, wl, list, cal]) assert.ok(!`${out.stdout}${out.stderr}`.includes('ECONNREFUSED'));
      } finally {
        follower.close();
        await store.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

