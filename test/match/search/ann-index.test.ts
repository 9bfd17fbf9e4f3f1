import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { AnnIndex, type AnnParams } from '../../../src/match/search/ann-index';
import { ExactIndex } from '../../../src/match/search/exact-index';
import { DIM, face, randomUnit, rng } from '../synthetic';

const SMALL: AnnParams = { connectivity: 16, expansionAdd: 100, expansionSearch: 64, candidates: 16, quantization: 'i8', threads: 1, discardVariance: 1e-5 };

function unitRows(seed: number, n: number): { rows: Float32Array; centres: Float32Array[] } {
  const r = rng(seed);
  const rows = new Float32Array(n * DIM);
  const centres: Float32Array[] = [];
  for (let i = 0; i < n; i++) {
    const c = randomUnit(r);
    centres.push(c);
    rows.set(face(r, c, 0.05), i * DIM);
  }
  return { rows, centres };
}

function dot(rows: Float32Array, id: number, q: Float32Array): number {
  let s = 0;
  for (let j = 0; j < DIM; j++) s += rows[id * DIM + j] * q[j];
  return s;
}

/** The exact index's best row for each query. */
async function exactTop(rows: Float32Array, queries: Float32Array[], bias?: Float32Array): Promise<number[]> {
  const exact = await ExactIndex.create(rows, DIM, bias ? { bias } : {});
  const hits = await exact.search(queries, 1);
  await exact.close();
  return hits.map((h) => h.ids[0]);
}

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(path.join(tmpdir(), 'facestream-ann-'));
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test('finds the exact nearest row for nearly every query, with exact scores best first; save/load gives the same answers', async (t) => {
  const n = 3000;
  const { rows, centres } = unitRows(11, n);
  const progress: number[] = [];
  const index = await AnnIndex.build(rows, DIM, SMALL, { sliceRows: 1000, onProgress: (d) => progress.push(d) });
  assert.deepEqual(progress, [1000, 2000, 3000]);
  assert.equal(index.size, n);
  const r = rng(12);
  const queries = Array.from({ length: 200 }, (_, i) => face(r, centres[(i * 37) % n], 0.05));
  const want = await exactTop(rows, queries);
  const got = await index.search(queries, 5);
  let hits = 0;
  got.forEach((h, i) => {
    if (h.ids[0] === want[i]) hits++;
    assert.equal(h.ids.length, 5);
    for (let k = 0; k < 5; k++) assert.ok(Math.abs(h.scores[k] - dot(rows, h.ids[k], queries[i])) < 1e-5, 'exact float32 score, not the 8-bit one');
    for (let k = 1; k < 5; k++) assert.ok(h.scores[k - 1] >= h.scores[k], 'best first');
  });
  t.diagnostic(`recall@1 ${hits}/200`);
  assert.ok(hits >= 196, `recall@1 ${hits}/200`);
  assert.equal(index.layout, 'breadth-first');
  assert.equal(index.mapped, true);

  await withDir(async (dir) => {
    const file = path.join(dir, 'index.usearch');
    await index.save(file);
    const loaded = await AnnIndex.load(file, rows, DIM, { expansionSearch: 64, candidates: 16, threads: 1 });
    assert.deepEqual(loaded.params, SMALL);
    assert.equal(loaded.layout, 'breadth-first');
    assert.equal(loaded.mapped, false, 'load() reads the file into the heap');
    const again = await loaded.search(queries, 5);
    again.forEach((h, i) => assert.deepEqual(Array.from(h.ids), Array.from(got[i].ids)));
    await assert.rejects(AnnIndex.load(file, rows.subarray(DIM), DIM), /holds 3000 rows, expected 2999 \(stale file/);
    const changed = rows.slice();
    changed[5] += 0.01;
    await assert.rejects(AnnIndex.load(file, changed, DIM), /built from other rows than these/);
    await assert.rejects(AnnIndex.load(path.join(dir, 'missing.usearch'), rows, DIM), /cannot read its description/);
    await assert.rejects(AnnIndex.load(file, rows, DIM, { bias: new Float32Array(n) }), /holds 128-d points, expected 128-d scorers/);
    await writeFile(path.join(dir, 'broken.usearch'), 'not an index');
    await writeFile(path.join(dir, 'broken.usearch.json'), (await import('node:fs')).readFileSync(`${file}.json`));
    await assert.rejects(AnnIndex.load(path.join(dir, 'broken.usearch'), rows, DIM), /ANN index .*broken.usearch: the file differs from the one its description was written for/);
    await loaded.close();
  });
  await index.close();
  await assert.rejects(index.search(queries, 1), /used after close/);
});

test('buildScored: the top scorer w·x + b is found (bias included) among scorers of different norms', async () => {
  const n = 2000;
  const r = rng(21);
  const weights = new Float32Array(n * DIM);
  const bias = new Float32Array(n);
  const directions: Float32Array[] = [];
  for (let i = 0; i < n; i++) {
    // Norms and biases spread like trained SVMs' (|w| 2.83 +- 0.08, b -1.01 +- 0.03 in the matcher tests), wider.
    const scale = 2.6 + 0.5 * r();
    const w = randomUnit(r);
    directions.push(w);
    for (let j = 0; j < DIM; j++) weights[i * DIM + j] = scale * w[j];
    bias[i] = -0.9 - 0.2 * r();
  }
  const index = await AnnIndex.buildScored(weights, bias, DIM, SMALL);
  // Probes like faces: near some scorer's direction.
  const queries = Array.from({ length: 200 }, (_, i) => face(r, directions[(i * 97) % n], 0.05));
  const want = await exactTop(weights, queries, bias);
  const got = await index.search(queries, 3);
  let hits = 0;
  got.forEach((h, i) => {
    if (h.ids[0] === want[i]) hits++;
    for (let t = 0; t < h.ids.length; t++) {
      const id = h.ids[t];
      const s = bias[id] + dot(weights, id, queries[i]);
      assert.ok(Math.abs(h.scores[t] - s) < 1e-5, `score ${h.scores[t]} vs w·x + b ${s}`);
    }
  });
  assert.ok(hits >= 196, `top scorer found for ${hits}/200`);
  // A bias that decides: two identical directions, the higher bias wins.
  await withDir(async (dir) => {
    await index.save(path.join(dir, 's.usearch'));
    await assert.rejects(AnnIndex.load(path.join(dir, 's.usearch'), weights, DIM), /holds 128-d scorers, expected 128-d points/);
    const loaded = await AnnIndex.load(path.join(dir, 's.usearch'), weights, DIM, { bias, expansionSearch: 64, candidates: 16 });
    assert.deepEqual(Array.from((await loaded.search(queries.slice(0, 5), 3))[4].ids), Array.from(got[4].ids));
  });
  await assert.rejects(AnnIndex.buildScored(weights, new Float32Array(3), DIM), /bias must be a Float32Array of 2000 values/);
});

test('the bias decides between scorers of the same direction', async () => {
  const r = rng(5);
  const n = 50;
  const weights = new Float32Array(n * DIM);
  const bias = new Float32Array(n);
  const w = randomUnit(r);
  for (let i = 0; i < n; i++) {
    weights.set(i < 2 ? w : randomUnit(r), i * DIM);
    bias[i] = i === 1 ? 0.5 : 0;
  }
  const index = await AnnIndex.buildScored(weights, bias, DIM, SMALL);
  const [h] = await index.search([w], 2);
  assert.deepEqual(Array.from(h.ids), [1, 0]);
  assert.ok(Math.abs(h.scores[0] - h.scores[1] - 0.5) < 1e-5);
});

test('parameters, queries and empty indexes are checked', async () => {
  const { rows } = unitRows(13, 10);
  await assert.rejects(AnnIndex.build(rows, DIM, { ...SMALL, connectivity: 1 }), /connectivity must be an integer >= 2, got 1/);
  await assert.rejects(AnnIndex.build(rows, DIM, { ...SMALL, quantization: 'b1' as never }), /quantization must be i8, f16 or f32, got "b1"/);
  await assert.rejects(AnnIndex.build(rows.subarray(1), DIM, SMALL), /expected a Float32Array of n x 128 values/);
  const bad = rows.slice();
  bad[7] = NaN;
  await assert.rejects(AnnIndex.build(bad, DIM, SMALL), /non-finite/);
  const index = await AnnIndex.build(rows, DIM, { ...SMALL, quantization: 'f32' });
  assert.equal((await index.search([rows.subarray(3 * DIM, 4 * DIM)], 1))[0].ids[0], 3, 'a row is its own nearest neighbour');
  await assert.rejects(index.search([new Float32Array(3)], 1), /must be a Float32Array of 128 values/);
  await assert.rejects(index.search([rows.subarray(0, DIM)], 0), /k must be a positive integer/);
  const many = await index.search([rows.subarray(0, DIM)], 50);
  assert.equal(many[0].ids.length, 10, 'k above the row count gives every row');
  const empty = await AnnIndex.build(new Float32Array(0), DIM, SMALL);
  assert.deepEqual(await empty.search([rows.subarray(0, DIM)], 3), [{ ids: new Int32Array(0), scores: new Float32Array(0) }]);
});

test('rows spanning few dimensions are searched in those (plus the augmentation), with the same answers', async () => {
  // 3000 rows in a 20-d subspace of 128-d (a random rotation of the first 20 axes), plus a common offset.
  const r = rng(31);
  const axes = Array.from({ length: 20 }, () => randomUnit(r));
  const offset = randomUnit(r);
  const n = 3000;
  const rows = new Float32Array(n * DIM);
  for (let i = 0; i < n; i++) {
    const row = rows.subarray(i * DIM, (i + 1) * DIM);
    for (let j = 0; j < DIM; j++) row[j] = 0.9 * offset[j];
    for (const a of axes) {
      const c = 0.2 * (r() * 2 - 1);
      for (let j = 0; j < DIM; j++) row[j] += c * a[j];
    }
  }
  const index = await AnnIndex.build(rows, DIM, SMALL);
  assert.ok(index.reduced.width <= 21 + 1, `searched in ${index.reduced.width} dimensions`);
  assert.ok(index.reduced.discarded <= 1e-5);
  const full = await AnnIndex.build(rows, DIM, { ...SMALL, discardVariance: 0 });
  assert.equal(full.reduced.width, DIM + 1, 'discardVariance 0 keeps every dimension');
  const queries = Array.from({ length: 100 }, (_, i) => rows.slice(i * 29 * DIM, (i * 29 + 1) * DIM).map((x) => x + 0.01 * (r() - 0.5)));
  const want = await exactTop(rows, queries);
  let hits = 0;
  (await index.search(queries, 1)).forEach((h, i) => {
    if (h.ids[0] === want[i]) hits++;
    assert.ok(Math.abs(h.scores[0] - dot(rows, h.ids[0], queries[i])) < 1e-5);
  });
  assert.ok(hits >= 98, `recall@1 ${hits}/100`);
});

test('a build can be cancelled: it stops between slices and rejects with an AbortError', async () => {
  const { rows } = unitRows(41, 2000);
  const before = new AbortController();
  before.abort();
  await assert.rejects(AnnIndex.build(rows, DIM, SMALL, { signal: before.signal }), { name: 'AbortError' });
  const during = new AbortController();
  const progress: number[] = [];
  const build = AnnIndex.build(rows, DIM, SMALL, {
    sliceRows: 500,
    signal: during.signal,
    onProgress: (done) => {
      progress.push(done);
      if (done === 1000) during.abort();
    },
  });
  await assert.rejects(build, { name: 'AbortError' });
  assert.deepEqual(progress, [500, 1000], 'no slice added after the abort');
});

test('when the breadth-first layout cannot be made, the graph keeps its insertion order, works, and the reason is told', async () => {
  const { rows, centres } = unitRows(51, 500);
  const reasons: string[] = [];
  const index = await AnnIndex.build(rows, DIM, SMALL, { tempDir: '/nonexistent/facestream', onLayoutFailed: (why) => reasons.push(why) });
  assert.equal(index.layout, 'insertion');
  assert.equal(reasons.length, 1);
  assert.match(reasons[0], /ENOENT.*\/nonexistent\/facestream/);
  const r = rng(52);
  const queries = Array.from({ length: 50 }, (_, i) => face(r, centres[i * 7], 0.05));
  const want = await exactTop(rows, queries);
  const got = await index.search(queries, 1);
  assert.ok(got.filter((h, i) => h.ids[0] === want[i]).length >= 48);
  assert.equal((await AnnIndex.build(rows, DIM, SMALL, { layout: 'insertion', onLayoutFailed: (why) => reasons.push(why) })).layout, 'insertion');
  assert.equal(reasons.length, 1, 'layout insertion: nothing attempted, nothing failed');
});

test('arrange() serves the graph memory-mapped from a private file whose name is gone at once; the same answers', async () => {
  const { rows, centres } = unitRows(71, 1500);
  const r = rng(72);
  const queries = Array.from({ length: 100 }, (_, i) => face(r, centres[(i * 13) % 1500], 0.05));
  await withDir(async (dir) => {
    const scratch = path.join(dir, 'scratch');
    await mkdir(scratch);
    const index = await AnnIndex.build(rows, DIM, SMALL, { tempDir: scratch });
    assert.equal(index.mapped, true);
    assert.deepEqual(await readdir(scratch), [], 'nothing left in tempDir');
    const maps = await readFile('/proc/self/maps', 'utf8');
    assert.match(maps, new RegExp(`${scratch}/facestream-ann-[^/]+/graph\\.usearch \\(deleted\\)`), 'a mapping of the unlinked file');
    const got = await index.search(queries, 3);
    const file = path.join(dir, 'i.usearch');
    await index.save(file);
    const loaded = await AnnIndex.load(file, rows, DIM, { expansionSearch: SMALL.expansionSearch, candidates: SMALL.candidates, threads: 1 });
    assert.equal(await loaded.arrange({ tempDir: scratch }), 'breadth-first');
    assert.equal(loaded.mapped, true);
    assert.deepEqual(await readdir(scratch), []);
    (await loaded.search(queries, 3)).forEach((h, i) => assert.deepEqual(Array.from(h.ids), Array.from(got[i].ids)));
    const heap = await AnnIndex.build(rows, DIM, SMALL, { layout: 'insertion' });
    assert.equal(heap.mapped, false);
    await Promise.all([index.close(), loaded.close(), heap.close()]);
  });
});

test('more threads than cores: the build uses them, searches (of the renumbered or a loaded graph) use one per core', async () => {
  const { rows, centres } = unitRows(61, 800);
  const many = { ...SMALL, threads: availableParallelism() + 3 };
  const index = await AnnIndex.build(rows, DIM, many);
  assert.equal(index.layout, 'breadth-first');
  const r = rng(62);
  // Enough queries per search call (SEARCH_SLICE) for the native threads to overlap: USearch aborts the process when
  // more threads search at once than it has slots for.
  const queries = Array.from({ length: 4000 }, (_, i) => face(r, centres[(i * 11) % 800], 0.05));
  const got = await index.search(queries, 1);
  assert.equal(got.length, 4000);
  await withDir(async (dir) => {
    await index.save(path.join(dir, 'm.usearch'));
    const loaded = await AnnIndex.load(path.join(dir, 'm.usearch'), rows, DIM, { expansionSearch: 64, candidates: 16, threads: many.threads });
    (await loaded.search(queries, 1)).forEach((h, i) => assert.equal(h.ids[0], got[i].ids[0]));
  });
});
