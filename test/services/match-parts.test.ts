/**
 * The match service's parts without Kafka or Redis: CameraTracks forgets idle tracks (and only those), and
 * MatcherSnapshots builds a snapshot from a stored model at once, trains one in the background (worker thread)
 * when the version has none while the previous snapshot stays live, and never adopts a training result for a
 * version that a newer one has overtaken.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { addIdentity, setThresholds, type Gallery } from '../../src/match/gallery';
import type { GallerySnapshot } from '../../src/match/redis/follower';
import type { Matcher, MatchResult } from '../../src/match/matcher';
import { trainGallery } from '../../src/match/svm';
import type { Snapshot } from '../../src/match/trainer';
import { CameraTracks } from '../../src/services/match/camera-tracks';
import { MatcherSnapshots, type MatcherSnapshotsOptions } from '../../src/services/match/matcher-snapshots';
import { TrackDecider } from '../../src/runtime/track-decider';
import { EMBEDDER, face, makeWorld, randomUnit, rng, strangers } from '../match/synthetic';
import { testLogger } from './helpers';

function snap(gallery: Gallery, withModel: boolean): GallerySnapshot {
  return Object.freeze({ gallery, ...(withModel ? { model: trainGallery(gallery) } : {}), version: gallery.version, epoch: 'e', loadedAt: Date.now(), reason: 'notice' as const });
}

describe('match service parts', () => {
  test('CameraTracks forgets tracks idle for idleMs, keeps the others, drops empty cameras', () => {
    let now = 1000;
    const tracks = new CameraTracks(5000, () => now);
    const d = tracks.touch('cam-a', 't1');
    d.seen('t1', 1000, 1000);
    tracks.touch('cam-a', 't2').seen('t2', 1000, 1000);
    tracks.touch('cam-b', 't3').seen('t3', 1000, 1000);
    now = 4000;
    tracks.touch('cam-a', 't1'); // t1 active again
    now = 6500;
    assert.equal(tracks.sweep(), 2, 't2 and t3 idle 5.5 s');
    assert.equal(tracks.tracks, 1);
    assert.equal(tracks.cameraCount, 1, 'cam-b had no track left');
    assert.equal(d.size, 1, 'the decider forgot t2 too');
    assert.equal(tracks.touch('cam-a', 't9'), d, 'one decider per camera');
    now = 9500;
    assert.equal(tracks.sweep(), 1, 't1 idle 5.5 s; t9 not yet');
  });

  test('MatcherSnapshots: stored model → at once; no model → trained in the background, the previous snapshot live meanwhile; stale trainings ignored', async () => {
    const r = rng(3);
    const w = makeWorld(r, 8, 4);
    const v1 = { ...w.gallery, version: 1 };
    const snaps = new MatcherSnapshots({ log: testLogger(), thresholds: { distance: 0.5 } });
    const swaps: [number, string][] = [];
    snaps.on('swap', (s: Snapshot, how: string) => swaps.push([s.gallery.version, how]));
    try {
      snaps.offer(snap(v1, true));
      assert.equal(snaps.current()?.gallery.version, 1, 'built synchronously from the stored model');
      assert.equal(snaps.current()?.matcher.thresholds.distance, 0.5, 'the configured override applies');
      assert.equal(snaps.training, undefined);

      // v2 adds an identity and has no model: v1 stays live until the training ends.
      const v2 = { ...addIdentity(v1, { name: 'New Person', embedder: EMBEDDER, embeddings: [face(r, randomUnit(r)), face(r, randomUnit(r))] }).gallery, version: 2 };
      snaps.offer(snap(v2, false));
      assert.equal(snaps.training, 2);
      assert.equal(snaps.current()?.gallery.version, 1, 'the previous snapshot stays live while training');
      await waitFor(() => snaps.current()?.gallery.version === 2);
      assert.equal(snaps.current()?.matcher.identityCount, 9);

      // v3 (no model) starts training, v4 (with its model) overtakes it: the v3 training result is never adopted.
      const v3 = { ...addIdentity(v2, { name: 'Third', embedder: EMBEDDER, embeddings: [face(r, randomUnit(r))] }).gallery, version: 3 };
      const v4 = { ...setThresholds(v3, { svm: 0.1, distance: 0.6 }), version: 4 };
      snaps.offer(snap(v3, false));
      snaps.offer(snap(v4, true));
      assert.equal(snaps.current()?.gallery.version, 4);
      await new Promise((res) => setTimeout(res, 1500)); // ample time for the v3 training to end
      assert.equal(snaps.current()?.gallery.version, 4, 'a stale training result is not swapped in');
      assert.deepEqual(swaps, [[1, 'stored-model'], [2, 'trained'], [4, 'stored-model']]);

      // A stored model that does not fit (trained on other identities) → trained instead.
      const v5 = { ...addIdentity(v4, { name: 'Fifth', embedder: EMBEDDER, embeddings: [face(r, randomUnit(r))] }).gallery, version: 5 };
      snaps.offer({ ...snap(v5, false), model: trainGallery(v4) });
      await waitFor(() => snaps.current()?.gallery.version === 5);
      assert.deepEqual(swaps.at(-1), [5, 'trained']);
    } finally {
      await snaps.close();
    }
  });
});

describe('match service parts: large galleries', () => {
  const kinds: [string, MatcherSnapshotsOptions['index']][] = [
    ['exact', undefined],
    ['approximate', { kind: 'approximate', params: { connectivity: 16, expansionAdd: 100, expansionSearch: 64, candidates: 16, quantization: 'i8', threads: 1, discardVariance: 1e-5 } }],
  ];
  for (const [name, index] of kinds) test(`MatcherSnapshots above indexAbove: the snapshot carries an ${name} candidate index (built before it goes live); tracks decided on candidates = decided on every identity`, async () => {
    const r = rng(11);
    const w = makeWorld(r, 60, 3);
    const v1 = { ...w.gallery, version: 1 };
    const small = new MatcherSnapshots({ log: testLogger(), thresholds: { distance: 0.5 }, indexAbove: 60, index });
    const large = new MatcherSnapshots({ log: testLogger(), thresholds: { distance: 0.5 }, indexAbove: 10, index });
    try {
      small.offer(snap(v1, true));
      assert.equal(small.current()?.candidates, undefined, '60 identities, indexAbove 60: every identity scored');
      large.offer(snap(v1, true));
      assert.equal(large.current(), undefined, 'not live before its index is built');
      assert.equal(large.training, 1, 'reported as in preparation meanwhile');
      await waitFor(() => large.current() !== undefined);
      const live = large.current()!;
      assert.ok(live.candidates, 'a candidate index above indexAbove');
      assert.equal(live.candidates.indexKind, name === 'exact' ? 'exact' : 'hnsw');
      assert.equal(large.training, undefined);

      // Tracks of 3 faces: 30 of enrolled people, 30 of strangers (half look-alikes); both paths must agree.
      let accepted = 0;
      const tracks = [
        ...w.centres.slice(0, 30).map((c) => [face(r, c, 0.04), face(r, c, 0.04), face(r, c, 0.04)]),
        ...Array.from({ length: 30 }, () => strangers(r, w.centres, 3, 0.5, 0.8)),
      ];
      for (const [i, faces] of tracks.entries()) {
        const full = new TrackDecider();
        const cand = new TrackDecider();
        const id = `t${i}`;
        full.seen(id, 0, 0);
        cand.seen(id, 0, 0);
        for (const e of faces) {
          const a = full.add(id, e, live).result;
          const restricted: Matcher = await live.candidates!.trackMatcher([...cand.embeddings(id), e]);
          const b: MatchResult = cand.add(id, e, live, restricted).result;
          assert.equal(b.accepted, a.accepted, `track ${i}: accepted`);
          assert.equal(b.identity, a.identity, `track ${i}: identity`);
          assert.equal(b.reason, a.reason, `track ${i}: reason`);
          if (a.accepted) accepted++;
        }
      }
      assert.ok(accepted >= 30, `genuine tracks were accepted (${accepted} accepted decisions)`);

      // A newer version replaces it; the replaced index is released later, the new one is live.
      const v2 = { ...addIdentity(v1, { name: 'Late', embedder: EMBEDDER, embeddings: [face(r, randomUnit(r))] }).gallery, version: 2 };
      large.offer(snap(v2, true));
      await waitFor(() => large.current()?.gallery.version === 2);
      assert.ok(large.current()!.candidates);
    } finally {
      await small.close();
      await large.close();
    }
  });
});

describe('match service parts: approximate index builds', () => {
  test('a newer gallery version abandons the approximate build of the older one; only the newer goes live', async () => {
    const r = rng(12);
    const w = makeWorld(r, 40, 3);
    const v1 = { ...w.gallery, version: 1 };
    const v2 = { ...addIdentity(v1, { name: 'Late', embedder: EMBEDDER, embeddings: [face(r, randomUnit(r))] }).gallery, version: 2 };
    const params = { connectivity: 16, expansionAdd: 100, expansionSearch: 64, candidates: 16, quantization: 'i8' as const, threads: 1, discardVariance: 1e-5 };
    const snaps = new MatcherSnapshots({ log: testLogger(), indexAbove: 10, index: { kind: 'approximate', params } });
    const abandoned: number[] = [];
    const live: number[] = [];
    snaps.on('abandoned', (v: number) => abandoned.push(v));
    snaps.on('swap', (s: { gallery: { version: number } }) => live.push(s.gallery.version));
    try {
      snaps.offer(snap(v1, true));
      snaps.offer(snap(v2, true)); // before v1's graph is built
      await waitFor(() => snaps.current()?.gallery.version === 2 && abandoned.length === 1);
      assert.deepEqual(abandoned, [1]);
      assert.deepEqual(live, [2], 'version 1 never went live');
      assert.equal(snaps.current()!.candidates?.indexKind, 'hnsw');
    } finally {
      await snaps.close();
    }
  });
});

describe('match service parts: approximate index layout', () => {
  test('a graph that cannot be laid out breadth-first (no temporary directory) goes live in insertion order, with a warning', async () => {
    const r = rng(13);
    const w = makeWorld(r, 40, 3);
    const params = { connectivity: 16, expansionAdd: 100, expansionSearch: 64, candidates: 16, quantization: 'i8' as const, threads: 1, discardVariance: 1e-5 };
    const lines: string[] = [];
    const snaps = new MatcherSnapshots({ log: testLogger(lines), indexAbove: 10, index: { kind: 'approximate', params, tempDir: '/nonexistent/facestream-scratch' } });
    try {
      snaps.offer(snap({ ...w.gallery, version: 1 }, true));
      await waitFor(() => snaps.current()?.candidates !== undefined);
      assert.equal(snaps.current()!.candidates?.indexKind, 'hnsw');
      const warn = lines.map((l) => JSON.parse(l) as { level: number; msg: string; reason?: string }).find((l) => l.msg.includes('insertion order'));
      assert.ok(warn, lines.join(''));
      assert.equal(warn.level, 40);
      assert.match(warn.reason ?? '', /ENOENT/);
    } finally {
      await snaps.close();
    }
  });
});

async function waitFor(cond: () => boolean, ms = 20_000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}
