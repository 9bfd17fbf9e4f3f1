import assert from 'node:assert/strict';
import { once } from 'node:events';
import { test } from 'node:test';
import { threadId } from 'node:worker_threads';
import { type Gallery, addIdentity, createWatchlist, setThresholds } from '../../src/match/gallery';
import { galleryShape, sameShape } from '../../src/match/svm';
import { ModelHolder, type Snapshot } from '../../src/match/trainer';
import { EMBEDDER, face, makeWorld, randomUnit, rng } from './synthetic';

const LOOSE = { svm: -0.5, distance: 0.8 };

function consistent(s: Snapshot): boolean {
  return (
    s.matcher.galleryVersion === s.gallery.version &&
    sameShape(s.model.shape, galleryShape(s.gallery)) &&
    s.model.weights.length === s.gallery.identities.length * s.gallery.dim
  );
}

test('trains in a worker thread; matching keeps the old model until the new one is swapped in', async () => {
  const r = rng(1);
  const world = makeWorld(r, 10, 4);
  const g1 = setThresholds(world.gallery, LOOSE);
  const holder = new ModelHolder();
  try {
    assert.equal(holder.current(), undefined);
    holder.requestRetrain(g1);
    const s1 = await holder.ready;
    assert.equal(s1.gallery, g1);
    assert.notEqual(s1.model.stats.threadId, threadId, 'trained off the main thread');
    assert.notEqual(s1.model.stats.threadId, 0);
    assert.equal(s1.matcher.match(face(r, world.centres[4])).identity, 'p4');

    // A bigger gallery with a newcomer: training takes a while.
    let g2: Gallery = g1;
    const newcomer = randomUnit(r);
    g2 = addIdentity(g2, { id: 'newcomer', name: 'New', embedder: EMBEDDER, embeddings: [face(r, newcomer), face(r, newcomer), face(r, newcomer)] }).gallery;
    for (let i = 0; i < 300; i++) {
      const c = randomUnit(r);
      g2 = addIdentity(g2, { id: `q${i}`, name: `Q ${i}`, embedder: EMBEDDER, embeddings: [face(r, c), face(r, c), face(r, c)] }).gallery;
    }
    const swapped = once(holder, 'swapped');
    holder.requestRetrain(g2);
    // Right after the request, and while training runs, the previous snapshot serves.
    assert.equal(holder.current(), s1);
    const probe = face(r, newcomer);
    const during = holder.current()!.matcher.match(probe);
    assert.notEqual(during.candidate, 'newcomer', 'the old model does not know the newcomer');
    assert.equal(during.identity, undefined);
    const seen = new Set<Snapshot>();
    let polls = 0;
    let stop = false;
    const poll = () => {
      const s = holder.current()!;
      assert.ok(consistent(s), 'every observed snapshot is internally consistent');
      seen.add(s);
      polls++;
      if (!stop) setImmediate(poll);
    };
    setImmediate(poll);
    const [s2] = (await swapped) as [Snapshot];
    stop = true;
    assert.ok(polls > 0);
    assert.ok([...seen].every((s) => s === s1 || s === s2), 'only whole snapshots were ever visible');
    assert.equal(s2.gallery, g2);
    assert.equal(holder.current(), s2);
    assert.equal(s2.matcher.match(probe).identity, 'newcomer', JSON.stringify(s2.matcher.match(probe)));
    assert.equal(holder.stats.trainings, 2);
  } finally {
    await holder.close();
  }
});

test('bursts of requests coalesce: at most one training runs and one waits', async () => {
  const r = rng(2);
  const base = makeWorld(r, 150, 3).gallery;
  const holder = new ModelHolder();
  const events: Snapshot[] = [];
  holder.on('swapped', (s: Snapshot) => events.push(s));
  try {
    const galleries: Gallery[] = [];
    let g = base;
    for (let i = 0; i < 6; i++) {
      g = addIdentity(g, { name: `burst ${i}`, embedder: EMBEDDER, embeddings: [face(r, randomUnit(r)), face(r, randomUnit(r))] }).gallery;
      galleries.push(g);
      holder.requestRetrain(g);
    }
    const s = await holder.ready;
    assert.equal(s.gallery, galleries[5], 'the latest request wins');
    assert.equal(holder.stats.trainings, 2, 'the first request trains; the 4 in between are absorbed; the last trains');
    assert.equal(holder.stats.coalesced, 4);
    assert.deepEqual(events.map((e) => e.gallery), [galleries[0], galleries[5]]);
    assert.ok(events.every(consistent));
  } finally {
    await holder.close();
  }
});

test('watchlist and threshold changes reuse the model and swap at once', async () => {
  const r = rng(3);
  const g1 = makeWorld(r, 8, 3).gallery;
  const holder = new ModelHolder();
  try {
    holder.requestRetrain(g1);
    const s1 = await holder.ready;
    const g2 = setThresholds(createWatchlist(g1, 'vip', { identities: ['p1'] }), { svm: 0.1, distance: 0.5 });
    holder.requestRetrain(g2);
    const s2 = await holder.ready;
    assert.equal(s2.gallery, g2);
    assert.equal(s2.model, s1.model);
    assert.equal(s2.matcher.thresholds.svm, 0.1);
    assert.equal(holder.stats.trainings, 1);
    assert.equal(holder.stats.reused, 1);
  } finally {
    await holder.close();
  }
});

test('a failed training keeps the previous snapshot and rejects ready', async () => {
  const r = rng(4);
  const g1 = makeWorld(r, 4, 2).gallery;
  const holder = new ModelHolder();
  const errors: Error[] = [];
  holder.on('train-error', (e: Error) => errors.push(e));
  try {
    holder.requestRetrain(g1);
    const s1 = await holder.ready;
    // A gallery corrupted behind the API's back (wrong embedding length) cannot be trained.
    const bad: Gallery = {
      ...g1,
      version: g1.version + 1,
      identities: [...g1.identities, { id: 'bad', name: 'Bad', embeddings: [new Float32Array(3).fill(1)], negatives: [], createdAt: '' }],
    };
    holder.requestRetrain(bad);
    await assert.rejects(holder.ready, /3 values, 128 expected/);
    assert.equal(holder.current(), s1);
    assert.equal(errors.length, 1);
    assert.equal(holder.stats.failures, 1);
    // It recovers with the next good gallery.
    const g2 = addIdentity(g1, { name: 'Ok', embedder: EMBEDDER, embeddings: [face(r, randomUnit(r))] }).gallery;
    holder.requestRetrain(g2);
    assert.equal((await holder.ready).gallery, g2);
  } finally {
    await holder.close();
  }
  assert.throws(() => holder.requestRetrain(g1), /closed/);
});

test('inThread mode trains on the calling thread', async () => {
  const holder = new ModelHolder({ inThread: true });
  const g = makeWorld(rng(5), 3, 2).gallery;
  holder.requestRetrain(g);
  const s = await holder.ready;
  assert.equal(s.model.stats.threadId, 0);
  await holder.close();
});

test('a missing worker script is reported', async () => {
  const holder = new ModelHolder({ workerScript: '/nonexistent/svm-worker.js' });
  holder.requestRetrain(makeWorld(rng(6), 2, 2).gallery);
  await assert.rejects(holder.ready, /worker script \/nonexistent\/svm-worker\.js not found/);
  await holder.close();
});
