/**
 * The Redis gallery store and follower against a REAL redis-server (scripts/redis.sh via test/support/redis.ts):
 * round trip, versions, racing writers, follower swaps, Redis restarts, erasure, credentials never shown.
 * Skips (with the reason printed) only when redis-server is not installed.
 */
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import pino from 'pino';
import { type Gallery, addIdentity, addNegatives, createWatchlist, removeIdentity, setThresholds, setWatchlistActive } from '../../src/match/gallery';
import { buildMatcher } from '../../src/match/matcher';
import { decodeIdentity, decodeMeta, encodeMeta, rowsToBuffer } from '../../src/match/redis/codec';
import {
  type GallerySnapshot,
  type RedisGallery,
  type RedisGalleryOptions,
  GalleryFollower,
  RedisGalleryError,
  UnknownIdentityError,
  VersionConflictError,
  aclRules,
  galleryKeys,
  openRedisGallery,
} from '../../src/match/redis-store';
import { type SvmModel, galleryShape, sameShape, trainGallery } from '../../src/match/svm';
import type { Logger } from '../../src/util/log';
import { type RedisServer, redisUnavailableReason, startRedis } from '../support/redis';
import { EMBEDDER, face, makeWorld, randomUnit, rng } from './synthetic';

const SKIP = redisUnavailableReason();
if (SKIP) console.log(`# skipping the Redis gallery store tests: ${SKIP}`);

/** A pino logger writing into `lines` (what an operator would see). */
function captureLog(lines: string[]): Logger {
  const sink = new Writable({
    write(chunk, _enc, cb) {
      lines.push(String(chunk));
      cb();
    },
  });
  return pino({ level: 'debug' }, sink);
}

function sample(seed = 9, ids = 6, per = 3): Gallery {
  const r = rng(seed);
  let g = makeWorld(r, ids, per).gallery;
  g = addNegatives(g, 'p2', EMBEDDER, [face(r, randomUnit(r))]);
  g = createWatchlist(g, 'night shift', { active: false, identities: ['p1', 'p2'] });
  g = setThresholds(g, { svm: 0.25, distance: 0.61, targetFpir: 0.01, achievedFpir: 0.008, calibratedAt: '2025-03-01T00:00:00.000Z', calibrationSize: 1000 });
  return g;
}

const plain = (g: Gallery) => ({
  ...g,
  version: 0,
  identities: g.identities.map((i) => ({ ...i, embeddings: i.embeddings.map((e) => Buffer.from(e.buffer, e.byteOffset, e.byteLength).toString('hex')), negatives: i.negatives.map((e) => Buffer.from(e.buffer, e.byteOffset, e.byteLength).toString('hex')) })),
});

/** Equal content (bit-exact embeddings), version aside. */
function assertSameGallery(actual: Gallery, expected: Gallery): void {
  assert.deepEqual(plain(actual), plain(expected));
  for (const i of actual.identities) for (const e of [...i.embeddings, ...i.negatives]) assert.ok(e instanceof Float32Array);
}

/** Content fingerprint (version aside) to tell which write a loaded gallery is, or that it is torn. */
function fingerprint(g: Gallery): string {
  const h = createHash('sha256').update(encodeMeta({ ...g, version: 0 }));
  for (const i of g.identities) h.update(i.id).update(i.name).update(rowsToBuffer(i.embeddings, g.dim, 'e')).update(rowsToBuffer(i.negatives, g.dim, 'n'));
  return h.digest('hex');
}

function assertSameModel(actual: SvmModel | undefined, expected: SvmModel, version: number): void {
  assert.ok(actual, 'a model was stored');
  assert.ok(Buffer.from(actual.weights.buffer, actual.weights.byteOffset, actual.weights.byteLength).equals(Buffer.from(expected.weights.buffer, expected.weights.byteOffset, expected.weights.byteLength)), 'weights bit-exact');
  assert.deepEqual(Array.from(actual.bias), Array.from(expected.bias));
  assert.deepEqual(actual.options, expected.options);
  assert.deepEqual(actual.stats, expected.stats);
  assert.equal(actual.backgroundCount, expected.backgroundCount);
  assert.deepEqual(actual.shape, { ...expected.shape, galleryVersion: version });
}

function waitEvent(emitter: GalleryFollower, name: string, timeoutMs = 15_000): Promise<unknown[]> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no '${name}' event within ${timeoutMs} ms (${emitter.health().detail})`)), timeoutMs);
    emitter.once(name, (...args: unknown[]) => {
      clearTimeout(t);
      resolve(args);
    });
  });
}

async function waitUntil(what: string, cond: () => boolean | Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Every key of the db with its value(s) as buffers (SCAN, then GET / HGETALL by type). */
async function dumpAll(c: Redis): Promise<Map<string, Buffer[]>> {
  const out = new Map<string, Buffer[]>();
  let cursor = '0';
  do {
    const [next, keys] = await c.scan(cursor, 'COUNT', 1000);
    cursor = next;
    for (const key of keys) {
      const type = await c.type(key);
      if (type === 'string') out.set(key, [(await c.getBuffer(key))!]);
      else if (type === 'hash') {
        const h = await c.hgetallBuffer(key);
        out.set(key, Object.entries(h).flatMap(([f, v]) => [Buffer.from(f), v]));
      } else out.set(key, [Buffer.from(`<${type}>`)]);
    }
  } while (cursor !== '0');
  return out;
}

/** A TCP forwarder in front of Redis that the test can cut: lets a follower miss a restart deterministically. */
async function gatedProxy(targetPort: number): Promise<{ port: number; open: boolean; cut(): void; close(): Promise<void> }> {
  const pairs = new Set<net.Socket>();
  const state = { open: true };
  const server = net.createServer((client) => {
    if (!state.open) {
      client.destroy();
      return;
    }
    const upstream = net.connect(targetPort, '127.0.0.1');
    pairs.add(client).add(upstream);
    const end = () => {
      client.destroy();
      upstream.destroy();
      pairs.delete(client);
      pairs.delete(upstream);
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    get open() {
      return state.open;
    },
    set open(v: boolean) {
      state.open = v;
    },
    cut() {
      state.open = false;
      for (const s of pairs) s.destroy();
    },
    close: () =>
      new Promise<void>((r) => {
        state.open = false;
        for (const s of pairs) s.destroy();
        server.close(() => r());
      }),
  };
}

describe('Redis gallery store (real redis-server)', { skip: SKIP, timeout: 180_000 }, () => {
  let server: RedisServer;
  const cleanups: (() => Promise<unknown> | unknown)[] = [];
  const logLines: string[] = [];
  const log = captureLog(logLines);
  let prefixSeq = 0;

  const open = (url: string, options: RedisGalleryOptions = {}): RedisGallery => {
    const s = openRedisGallery(url, { log, reconnectMaxMs: 300, ...options });
    cleanups.push(() => s.close());
    return s;
  };
  const rawClient = (url: string): Redis => {
    const c = new Redis(url, { maxRetriesPerRequest: 50, retryStrategy: () => 100 });
    c.on('error', () => undefined);
    cleanups.push(() => c.disconnect());
    return c;
  };
  const freshPrefix = () => `fs-test-${process.pid}-${++prefixSeq}:`;

  before(async () => {
    server = await startRedis();
    cleanups.push(() => server.stop());
  });
  after(async () => {
    for (const c of cleanups.reverse()) await Promise.resolve(c()).catch(() => undefined);
  });

  test('save/load round trip: embeddings bit-exact and binary, model equal, versions counted', async () => {
    const prefix = freshPrefix();
    const store = open(server.url, { prefix });
    assert.equal(await store.load(), undefined, 'nothing stored yet');
    assert.equal(await store.head(), undefined);
    const g = sample();
    const model = trainGallery(g);
    assert.equal(await store.save(g, model), 1);
    const head = await store.head();
    assert.equal(head?.version, 1);
    assert.match(head!.epoch, /^[0-9a-f]{16}$/);

    // Another process (another connection) reads the same.
    const reader = open(server.url, { prefix });
    const back = await reader.load();
    assert.ok(back);
    assert.equal(back.version, 1);
    assert.equal(back.gallery.version, 1, 'the gallery carries the stored version');
    assertSameGallery(back.gallery, g);
    assertSameModel(back.model, model, 1);
    // The loaded pair is usable as is.
    const m = buildMatcher(back.gallery, back.model!);
    assert.equal(m.galleryVersion, 1);

    // Embeddings are binary float32 rows, not JSON text.
    const raw = rawClient(server.url);
    const keys = galleryKeys(prefix);
    const p2 = g.identities.find((i) => i.id === 'p2')!;
    const stored = await raw.hgetallBuffer(keys.identity('p2'));
    assert.ok(stored.embeddings.equals(rowsToBuffer(p2.embeddings, g.dim, 'e')));
    assert.ok(stored.negatives.equals(rowsToBuffer(p2.negatives, g.dim, 'n')));
    assert.equal(stored.embeddings.length, p2.embeddings.length * g.dim * 4);
    const meta = (await raw.get(keys.meta))!;
    assert.doesNotMatch(meta, new RegExp(String(p2.embeddings[0][0]).replace('.', '\\.').slice(0, 8)), 'no embedding value in the JSON');
    assert.deepEqual(decodeMeta(meta, 'meta').ids, g.identities.map((i) => i.id));
    assert.ok(decodeIdentity('p2', stored, g.dim, 'p2').embeddings.length === p2.embeddings.length);

    // Versions count every save whatever gallery.version says; a model is kept only when given.
    assert.equal(await store.save({ ...g, version: 100 }), 2);
    const noModel = await reader.load();
    assert.equal(noModel?.version, 2);
    assert.equal(noModel?.model, undefined, 'save without a model removes the stored one (it may be stale)');
    assert.equal(await raw.exists(keys.model), 0);
    assert.equal(await store.save(g, model), 3);
    // A model of other identities is refused and nothing changes.
    const bigger = addIdentity(g, { name: 'Newcomer', embedder: EMBEDDER, embeddings: [randomUnit(rng(3))] }).gallery;
    await assert.rejects(store.save(bigger, model), /model was trained on gallery version .* retrain/);
    assert.equal((await store.head())?.version, 3);
    // Removed identities lose their keys.
    const smaller = removeIdentity(g, 'p5');
    assert.equal(await store.save(smaller), 4);
    assert.equal(await raw.exists(keys.identity('p5')), 0);
    assertSameGallery((await reader.load())!.gallery, smaller);
    // expectedVersion: compare-and-set.
    await assert.rejects(store.save(g, undefined, { expectedVersion: 3 }), (e: unknown) => e instanceof VersionConflictError && e.expected === 3 && e.actual === 4);
    assert.equal(await store.save(g, undefined, { expectedVersion: 4 }), 5);
    assert.equal((await store.head())?.version, 5);
  });

  test('update() keeps the model across watchlist/threshold changes and writes only what changed', async () => {
    const prefix = freshPrefix();
    const store = open(server.url, { prefix });
    const g = sample();
    await store.save(g, trainGallery(g));
    // Redis counts the HSETs the commit script runs: one per field written (+1 for the head).
    const admin = rawClient(server.url);
    const hsets = async () => Number(/cmdstat_hset:calls=(\d+)/.exec(await admin.info('commandstats'))?.[1] ?? 0);
    await admin.config('RESETSTAT');
    const changed = await store.update((cur) => setWatchlistActive(cur!.gallery, 'night shift', true));
    assert.equal(changed.version, 2);
    assert.equal(await hsets(), 1, 'a watchlist change rewrites no identity and not the model (only meta and head)');
    assert.ok(changed.model, 'identities untouched: the stored model still fits');
    const back = (await store.load())!;
    assert.equal(back.gallery.watchlists.find((w) => w.name === 'night shift')?.active, true);
    assert.ok(back.model);
    assert.ok(sameShape(back.model.shape, galleryShape(back.gallery)));
    // Enrolling through update() drops the stale model (identities changed, none given).
    const enrolled = await store.update((cur) => addIdentity(cur!.gallery, { name: 'Ada L', embedder: EMBEDDER, embeddings: [randomUnit(rng(5))] }).gallery);
    assert.equal(enrolled.version, 3);
    assert.equal(enrolled.model, undefined);
    assert.equal(await hsets(), 1 + 4 + 1, 'enrolling writes the new identity (4 fields) only');
    // A save from a fresh instance (nothing known about what is stored) rewrites everything.
    const other = open(server.url, { prefix });
    const all = (await other.load())!;
    await admin.config('RESETSTAT');
    await open(server.url, { prefix }).save(all.gallery);
    assert.equal(await hsets(), all.gallery.identities.length * 4 + 1);
    assert.deepEqual((await store.load())!.gallery.identities.map((i) => i.id).slice(-1), ['ada-l']);
  });

  test('racing writers: both commit in some order, the version counts both, readers never see a torn gallery', async () => {
    const prefix = freshPrefix();
    const a = open(server.url, { prefix });
    const b = open(server.url, { prefix });
    const reader = open(server.url, { prefix });
    // Same ids, different contents and sizes: a mix of the two would show.
    const A = setThresholds(makeWorld(rng(1), 300, 5).gallery, { svm: 0.1, distance: 0.5 });
    const B = setThresholds(makeWorld(rng(2), 200, 5).gallery, { svm: 0.2, distance: 0.6 });
    const fA = fingerprint(A);
    const fB = fingerprint(B);
    assert.notEqual(fA, fB);
    assert.equal(await a.save(A), 1);
    let reading = true;
    let reads = 0;
    const seen = new Set<string>();
    const readLoop = (async () => {
      while (reading) {
        const cur = await reader.load();
        assert.ok(cur);
        const f = fingerprint(cur.gallery);
        assert.ok(f === fA || f === fB, `load ${reads} returned a torn gallery (v${cur.version}, ${cur.gallery.identities.length} identities)`);
        seen.add(f);
        reads++;
      }
    })();
    let version = 1;
    for (let round = 0; round < 6; round++) {
      const [va, vb] = await Promise.all([a.save(A), b.save(B)]);
      assert.deepEqual([va, vb].sort((x, y) => x - y), [version + 1, version + 2], 'each save got its own version');
      version += 2;
      const cur = (await reader.load())!;
      assert.equal(cur.version, version);
      assert.equal(fingerprint(cur.gallery), va > vb ? fA : fB, 'the last commit wins, whole');
    }
    reading = false;
    await readLoop;
    assert.ok(reads > 0);

    // Read-modify-write through update(): concurrent enrolments are all kept (no lost update).
    const enrol = (store: RedisGallery, name: string) =>
      store.update((cur) => addIdentity(cur!.gallery, { name, embedder: EMBEDDER, embeddings: [randomUnit(rng(name.length + 7))] }).gallery);
    const names = Array.from({ length: 10 }, (_, i) => `Racer ${i}`);
    await Promise.all(names.map((n, i) => enrol(i % 2 ? a : b, n)));
    const final = (await reader.load())!;
    assert.equal(final.version, version + names.length);
    for (const n of names) assert.ok(final.gallery.identities.some((i) => i.name === n), `${n} was enrolled`);
    // Stale compare-and-set writers fail cleanly.
    await assert.rejects(a.save(A, undefined, { expectedVersion: version }), VersionConflictError);
  });

  test('a follower swaps in new versions, ignores duplicate/stale/foreign notices, never exposes a partial gallery', async () => {
    const prefix = freshPrefix();
    const writer = open(server.url, { prefix });
    const followerStore = open(server.url, { prefix });
    let g = sample();
    await writer.save(g, trainGallery(g));
    const follower = new GalleryFollower(followerStore, { log, pollMs: 60_000 });
    cleanups.push(() => follower.close());
    const swaps: GallerySnapshot[] = [];
    follower.on('swap', (s: GallerySnapshot) => swaps.push(s));
    const first = await follower.start();
    assert.equal(first?.version, 1);
    assert.ok(first.model);
    const health = follower.health();
    assert.equal(health.ok, true);
    assert.equal(health.degraded, false);

    for (let i = 0; i < 3; i++) {
      g = addIdentity(g, { name: `Late ${i}`, embedder: EMBEDDER, embeddings: [randomUnit(rng(40 + i))] }).gallery;
      const v = await writer.save(g, trainGallery(g));
      const s = await follower.waitFor((x) => x.version === v);
      assert.equal(s.reason === 'notice' || s.reason === 'resync', true);
      assert.equal(s.gallery.identities.length, g.identities.length);
    }
    assert.ok(Object.isFrozen(follower.current()));
    for (const s of swaps) {
      assert.equal(s.gallery.version, s.version);
      assert.ok(s.model && sameShape(s.model.shape, galleryShape(s.gallery)), 'every snapshot is a complete, matching pair');
    }
    assert.equal(first.version, 1, 'a reader holding an old snapshot keeps it intact');

    // Duplicate, stale and foreign notices: no load, no swap.
    const raw = rawClient(server.url);
    const keys = galleryKeys(prefix);
    const cur = follower.current()!;
    const loads = follower.stats.loads;
    const ignored = follower.stats.ignored;
    await raw.publish(keys.channel, `${cur.version} ${cur.epoch}`);
    await raw.publish(keys.channel, `1 ${cur.epoch}`);
    await raw.publish(keys.channel, 'garbage');
    await waitUntil('the notices to be ignored', () => follower.stats.ignored >= ignored + 2);
    // A notice of a version that was never stored: checked against the head, nothing loaded.
    await raw.publish(keys.channel, `${cur.version + 50} ${cur.epoch}`);
    await waitUntil('the bogus notice to be checked', () => follower.stats.checks > 0 && follower.stats.notices >= 3);
    await follower.refresh();
    assert.equal(follower.stats.loads, loads, 'no reload for notices of versions it has or that do not exist');
    assert.equal(follower.current(), cur, 'no swap');

    // A watchlist change reaches the follower with the model kept.
    await writer.update((c) => setWatchlistActive(c!.gallery, 'night shift', true));
    const s = await follower.waitFor((x) => x.version === cur.version + 1);
    assert.ok(s.model);
    assert.equal(s.gallery.watchlists.find((w) => w.name === 'night shift')?.active, true);
  });

  test('a follower started while Redis is unreachable reports it, then loads when Redis answers', async () => {
    const prefix = freshPrefix();
    const writer = open(server.url, { prefix });
    const g = sample();
    await writer.save(g);
    const proxy = await gatedProxy(server.port);
    cleanups.push(() => proxy.close());
    proxy.open = false;
    const follower = new GalleryFollower(open(`redis://127.0.0.1:${proxy.port}`, { prefix }), { log, pollMs: 60_000, retryMs: 200, checkTimeoutMs: 2000 });
    cleanups.push(() => follower.close());
    assert.equal(await follower.start(), undefined);
    let h = follower.health();
    assert.deepEqual([h.ok, h.degraded], [false, true]);
    assert.match(h.detail, /redis unreachable/);
    proxy.open = true;
    const s = await follower.waitFor((x) => x.version === 1);
    assertSameGallery(s.gallery, g);
    h = follower.health();
    assert.deepEqual([h.ok, h.degraded], [true, false]);
  });

  test('a follower survives Redis SIGKILL + restart: serves its copy, degraded, then catches up on a version it never got a notice for', async () => {
    const durable = await startRedis({ persist: true });
    cleanups.push(() => durable.stop());
    const proxy = await gatedProxy(durable.port);
    cleanups.push(() => proxy.close());
    const prefix = freshPrefix();
    const writer = open(durable.url, { prefix });
    let g = sample();
    await writer.save(g, trainGallery(g));
    await writer.close();

    // The follower reaches Redis through a forwarder the test can cut, so that the new version below is
    // committed (and published) while the follower is certainly not subscribed.
    const followerStore = open(`redis://127.0.0.1:${proxy.port}`, { prefix });
    const follower = new GalleryFollower(followerStore, { log, pollMs: 60_000, retryMs: 200, checkTimeoutMs: 2000 });
    cleanups.push(() => follower.close());
    const first = await follower.start();
    assert.equal(first?.version, 1);

    const degraded = waitEvent(follower, 'degraded');
    proxy.cut();
    await durable.kill9();
    await degraded;
    assert.equal(follower.degraded, true);
    assert.equal(follower.current(), first, 'keeps serving its copy while Redis is down');
    let h = follower.health();
    assert.equal(h.ok, true);
    assert.equal(h.degraded, true);
    assert.match(h.detail, /serving gallery v1/);
    await assert.rejects(followerStore.load(), RedisGalleryError, 'a direct load fails (fast) while Redis is down');

    await durable.restart();
    const other = open(durable.url, { prefix });
    const before = await other.load();
    assert.equal(before?.version, 1, 'the AOF kept v1');
    g = addIdentity(before!.gallery, { name: 'While Away', embedder: EMBEDDER, embeddings: [randomUnit(rng(77))] }).gallery;
    const model = trainGallery(g);
    assert.equal(await other.save(g, model), 2);
    const raw = rawClient(durable.url);
    const numsub = (await raw.pubsub('NUMSUB', galleryKeys(prefix).channel)) as [string, number];
    assert.equal(Number(numsub[1]), 0, 'nobody was subscribed when v2 was published');
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(follower.current()?.version, 1, 'still on its copy: it cannot reach Redis');
    assert.equal(follower.degraded, true);

    const recovered = waitEvent(follower, 'recovered');
    proxy.open = true;
    const s = await follower.waitFor((x) => x.version === 2, 20_000);
    await recovered;
    assert.notEqual(s.reason, 'notice', 'caught up by comparing the stored version, not by the missed notice');
    assertSameGallery(s.gallery, g);
    assertSameModel(s.model, model, 2);
    h = follower.health();
    assert.deepEqual([h.ok, h.degraded, h.version], [true, false, 2]);
  });

  test('a follower on a Redis that restarts empty keeps its copy, then takes the new history (new epoch)', async () => {
    const volatile = await startRedis();
    cleanups.push(() => volatile.stop());
    const prefix = freshPrefix();
    const writer = open(volatile.url, { prefix });
    let g = sample();
    await writer.save(g);
    g = setThresholds(g, { svm: 0.3, distance: 0.5 });
    await writer.save(g);
    await writer.save(g); // v3
    const follower = new GalleryFollower(open(volatile.url, { prefix }), { log, pollMs: 60_000, retryMs: 200, checkTimeoutMs: 2000 });
    cleanups.push(() => follower.close());
    const first = (await follower.start())!;
    assert.equal(first.version, 3);

    const degraded = waitEvent(follower, 'degraded');
    await volatile.sigterm(); // stop: no persistence, so it comes back empty
    await degraded;
    await volatile.restart();
    // Back, but holding nothing: still degraded, still serving v3.
    await waitUntil('the follower to notice the empty Redis', () => /redis holds no gallery/.test(follower.health().detail));
    assert.equal(follower.current(), first);
    assert.equal(follower.degraded, true);

    const fresh = sample(21, 4, 2);
    assert.equal(await writer.save(fresh), 1, 'a wiped Redis starts again at version 1');
    const s = await follower.waitFor((x) => x.version === 1);
    assert.notEqual(s.epoch, first.epoch);
    assertSameGallery(s.gallery, fresh);
    assert.equal(follower.degraded, false);
  });

  test('deleteIdentity erases every key and value holding the identity, atomically with the version bump', async () => {
    const prefix = freshPrefix();
    const store = open(server.url, { prefix });
    const g = sample();
    const model = trainGallery(g);
    await store.save(g, model);
    const follower = new GalleryFollower(open(server.url, { prefix }), { log, pollMs: 60_000 });
    cleanups.push(() => follower.close());
    await follower.start();

    const victim = g.identities.find((i) => i.id === 'p2')!;
    const k = g.identities.indexOf(victim);
    const secrets: [string, Buffer][] = [
      ...victim.embeddings.map((e, i): [string, Buffer] => [`embedding ${i}`, rowsToBuffer([e], g.dim, 'e')]),
      ...victim.negatives.map((e, i): [string, Buffer] => [`negative ${i}`, rowsToBuffer([e], g.dim, 'n')]),
      ['model weights row', rowsToBuffer([model.weights.subarray(k * g.dim, (k + 1) * g.dim)], g.dim, 'w')],
      ['name', Buffer.from(victim.name)],
    ];
    const raw = rawClient(server.url);
    const containsSecret = async () => {
      const hits: string[] = [];
      for (const [key, values] of await dumpAll(raw)) {
        if (!key.startsWith(prefix)) continue;
        if (key.includes(`identity:${victim.id}`)) hits.push(`key ${key}`);
        for (const v of values) for (const [what, bytes] of secrets) if (v.includes(bytes)) hits.push(`${what} in ${key}`);
      }
      return hits;
    };
    assert.ok((await containsSecret()).length >= secrets.length, 'the scan finds the data before erasure (the check can fail)');

    assert.equal(await store.deleteIdentity('p2'), 2);
    assert.deepEqual(await containsSecret(), []);
    const back = (await store.load())!;
    assert.equal(back.version, 2);
    assert.equal(back.gallery.identities.some((i) => i.id === 'p2'), false);
    for (const w of back.gallery.watchlists) assert.equal(w.identities.includes('p2'), false, `watchlist ${w.name}`);
    // The other identities' SVM rows are untouched and the pair is usable.
    assert.ok(back.model);
    for (const [j, id] of back.model.shape.ids.entries()) {
      const o = g.identities.findIndex((i) => i.id === id);
      assert.deepEqual(Array.from(back.model.weights.subarray(j * g.dim, (j + 1) * g.dim)), Array.from(model.weights.subarray(o * g.dim, (o + 1) * g.dim)));
      assert.equal(back.model.bias[j], model.bias[o]);
    }
    buildMatcher(back.gallery, back.model);
    const s = await follower.waitFor((x) => x.version === 2);
    assert.equal(s.gallery.identities.some((i) => i.id === 'p2'), false);
    await assert.rejects(store.deleteIdentity('p2'), UnknownIdentityError);
    assert.equal((await store.head())?.version, 2, 'a failed erasure bumps nothing');
  });

  test('credentials: password URLs and ACL users work; the password never appears in errors or logs', async () => {
    const secured = await startRedis();
    cleanups.push(() => secured.stop());
    const prefix = freshPrefix();
    const admin = rawClient(secured.url);
    const writerPass = 'Wr1ter-s3cret:pw@x';
    const readerPass = 'R3ader-s3cret-pw';
    await admin.call('ACL', 'SETUSER', 'fs-writer', 'on', `>${writerPass}`, ...aclRules('writer', prefix));
    await admin.call('ACL', 'SETUSER', 'fs-reader', 'on', `>${readerPass}`, ...aclRules('reader', prefix));
    const enc = encodeURIComponent;
    const wUrl = `redis://fs-writer:${enc(writerPass)}@127.0.0.1:${secured.port}`;
    const rUrl = `redis://fs-reader:${enc(readerPass)}@127.0.0.1:${secured.port}`;
    const lines: string[] = [];
    const captured = captureLog(lines);
    const consoleLines: string[] = [];
    const saved = { error: console.error, warn: console.warn, log: console.log };
    for (const k of ['error', 'warn', 'log'] as const) console[k] = (...a: unknown[]) => void consoleLines.push(a.map(String).join(' '));
    const errors: unknown[] = [];
    try {
      const writer = open(wUrl, { prefix, log: captured });
      assert.equal(writer.url, `redis://***@127.0.0.1:${secured.port}`);
      const g = sample();
      assert.equal(await writer.save(g, trainGallery(g)), 1, 'the writer ACL rules suffice');
      assert.equal(await writer.deleteIdentity('p5'), 2);

      const reader = open(rUrl, { prefix, log: captured });
      const follower = new GalleryFollower(reader, { log: captured, pollMs: 60_000 });
      cleanups.push(() => follower.close());
      assert.equal((await follower.start())?.version, 2, 'the reader ACL rules suffice to follow');
      await writer.update((c) => setWatchlistActive(c!.gallery, 'night shift', true));
      await follower.waitFor((x) => x.version === 3);
      const denied = await reader.save(g).catch((e: unknown) => e);
      assert.ok(denied instanceof RedisGalleryError && /NOPERM|no permissions/i.test(denied.message), `a reader cannot write: ${String(denied)}`);
      errors.push(denied);

      const wrong = open(`redis://fs-writer:${enc('not-' + writerPass)}@127.0.0.1:${secured.port}`, { prefix, log: captured });
      const e1 = await wrong.load().catch((e: unknown) => e);
      assert.ok(e1 instanceof RedisGalleryError, String(e1));
      assert.match(e1.message, /WRONGPASS|invalid username-password/);
      errors.push(e1);
      const badFollower = new GalleryFollower(wrong, { log: captured, pollMs: 60_000, checkTimeoutMs: 3000 });
      cleanups.push(() => badFollower.close());
      await badFollower.start();
      assert.equal(badFollower.health().ok, false);
      errors.push(badFollower.health().detail);

      // rediss:// to a server that does not speak TLS: fails, without the password.
      const tlsWrong = open(`rediss://fs-writer:${enc(writerPass)}@127.0.0.1:${secured.port}`, { prefix, log: captured, redisOptions: { connectTimeout: 1000, maxRetriesPerRequest: 1 } });
      const e2 = await tlsWrong.load().catch((e: unknown) => e);
      assert.ok(e2 instanceof RedisGalleryError, String(e2));
      errors.push(e2);
      // An unparseable URL is reported masked.
      const e3 = (() => {
        try {
          openRedisGallery(`http://user:${writerPass}@host`);
        } catch (e) {
          return e;
        }
      })();
      assert.ok(e3 instanceof Error);
      errors.push(e3);
      await new Promise((r) => setTimeout(r, 300)); // let reconnection attempts log
    } finally {
      Object.assign(console, saved);
    }
    const shown = [
      ...lines,
      ...consoleLines,
      ...errors.map((e) => (e instanceof Error ? `${e.message}\n${e.stack}\n${JSON.stringify(e)}\n${String((e as { cause?: unknown }).cause ?? '')}` : String(e))),
    ].join('\n');
    assert.ok(lines.length > 0, 'something was logged (the check can fail)');
    for (const secret of [writerPass, readerPass, enc(writerPass), 'not-' + writerPass]) {
      assert.equal(shown.includes(secret), false, `a password appeared in logs/errors: ${shown.split('\n').find((l) => l.includes(secret))?.slice(0, 120).replace(secret, '<PASSWORD>')}`);
    }
    assert.match(shown, /redis:\/\/\*\*\*@127\.0\.0\.1/, 'URLs are shown masked');
  });
});

// A real TLS Redis (rediss://): a self-signed certificate made with openssl, redis-server started with --tls-port.
const TLS_SKIP = SKIP;
describe('Redis gallery store over TLS (rediss://)', { skip: TLS_SKIP, timeout: 60_000 }, () => {
  let dir = '';
  let proc: ChildProcess | undefined;
  let port = 0;
  let ca: Buffer;
  let skipReason: string | undefined;
  const password = 'tls-Pa55word';

  before(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'facestream-redis-tls-'));
    const ok = await new Promise<boolean>((resolve) =>
      execFile(
        'openssl',
        ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', path.join(dir, 'key.pem'), '-out', path.join(dir, 'cert.pem'), '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'],
        { timeout: 30_000 },
        (err) => resolve(!err),
      ),
    );
    if (!ok) {
      skipReason = 'openssl could not make a test certificate';
      return;
    }
    ca = await fs.readFile(path.join(dir, 'cert.pem'));
    port = await new Promise<number>((resolve) => {
      const s = net.createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as net.AddressInfo).port;
        s.close(() => resolve(p));
      });
    });
    proc = spawn(
      'redis-server',
      ['--port', '0', '--tls-port', String(port), '--bind', '127.0.0.1', '--tls-cert-file', path.join(dir, 'cert.pem'), '--tls-key-file', path.join(dir, 'key.pem'), '--tls-ca-cert-file', path.join(dir, 'cert.pem'), '--tls-auth-clients', 'no', '--requirepass', password, '--save', '', '--appendonly', 'no', '--dir', dir],
      { stdio: 'ignore' },
    );
    proc.on('error', () => undefined);
  });
  after(async () => {
    if (proc && proc.exitCode === null) {
      proc.kill('SIGKILL');
      await new Promise((r) => proc!.once('exit', r));
    }
    if (dir) await fs.rm(dir, { recursive: true, force: true });
  });

  test('save, load and follow over rediss:// with a password in the URL', async (t) => {
    if (skipReason) {
      t.skip(skipReason);
      return;
    }
    const lines: string[] = [];
    const store = openRedisGallery(`rediss://:${password}@127.0.0.1:${port}`, { log: captureLog(lines), redisOptions: { tls: { ca } } });
    try {
      await waitUntil('the TLS redis-server to answer', async () => (await store.head().then(() => true, () => false)), 20_000);
      const g = sample();
      const model = trainGallery(g);
      assert.equal(await store.save(g, model), 1);
      const follower = new GalleryFollower(store, { log: captureLog(lines), pollMs: 60_000 });
      const s = await follower.start();
      follower.close();
      assert.ok(s);
      assertSameGallery(s.gallery, g);
      assertSameModel(s.model, model, 1);
      assert.equal(store.url, `rediss://***@127.0.0.1:${port}`);
      // Plain redis:// to the TLS port fails.
      const plainStore = openRedisGallery(`redis://:${password}@127.0.0.1:${port}`, { log: captureLog(lines), redisOptions: { connectTimeout: 1000, maxRetriesPerRequest: 1, commandTimeout: 2000 } });
      const e = await plainStore.load().catch((x: unknown) => x);
      await plainStore.close();
      assert.ok(e instanceof RedisGalleryError);
      assert.equal(`${e.message}${e.stack}${lines.join('')}`.includes(password), false);
    } finally {
      await store.close();
    }
  });
});
