import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { ExactIndex } from '../../../src/match/search/exact-index';
import { HnswIndex } from '../../../src/match/search/hnsw-index';
import { DIM, face, randomUnit, rng } from '../synthetic';

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

test('HNSW finds the exact nearest row for nearly every query; save/load gives the same answers', async (t) => {
  const n = 3000;
  const { rows, centres } = unitRows(11, n);
  const progress: number[] = [];
  const index = await HnswIndex.build(rows, DIM, { M: 16, efConstruction: 100, efSearch: 64, seed: 7 }, { yieldEvery: 1000, onProgress: (d) => progress.push(d) });
  assert.deepEqual(progress, [1000, 2000, 3000]);
  assert.equal(index.size, n);
  const r = rng(12);
  const queries = Array.from({ length: 200 }, (_, i) => face(r, centres[(i * 37) % n], 0.05));
  const exact = await ExactIndex.create(rows, DIM);
  const want = await exact.search(queries, 1);
  const got = await index.search(queries, 5);
  let hits = 0;
  got.forEach((h, i) => {
    if (h.ids[0] === want[i].ids[0]) hits++;
    assert.equal(h.ids.length, 5);
    assert.ok(Math.abs(h.scores[0] - want[i].scores[0]) < 1e-4 || h.ids[0] !== want[i].ids[0], 'score = inner product');
    for (let k = 1; k < 5; k++) assert.ok(h.scores[k - 1] >= h.scores[k], 'best first');
  });
  t.diagnostic(`recall@1 ${hits}/200`);
  assert.ok(hits >= 196, `recall@1 ${hits}/200`);

  const dir = await mkdtemp(path.join(tmpdir(), 'facestream-hnsw-'));
  try {
    const file = path.join(dir, 'index.bin');
    await index.save(file);
    const loaded = await HnswIndex.load(file, { dim: DIM, size: n });
    assert.deepEqual(loaded.params, { M: 16, efConstruction: 100, efSearch: 64, seed: 7 });
    const again = await loaded.search(queries, 5);
    again.forEach((h, i) => assert.deepEqual(Array.from(h.ids), Array.from(got[i].ids)));
    await assert.rejects(HnswIndex.load(file, { dim: DIM, size: n + 1 }), /holds 3000 points, expected 3001/);
    await assert.rejects(HnswIndex.load(path.join(dir, 'missing.bin'), { dim: DIM }), /cannot read its description/);
    await assert.rejects(HnswIndex.load(file, { dim: DIM, scored: true }), /holds 128-d points, expected 128-d scorers/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('buildScored: scores are w·x + b (bias included) and the top scorer is found', async () => {
  const n = 2000;
  const r = rng(21);
  const weights = new Float32Array(n * DIM);
  const bias = new Float32Array(n);
  const directions: Float32Array[] = [];
  for (let i = 0; i < n; i++) {
    // Scorers of different norms and biases, spread like trained SVMs (the matcher tests' world: |w| 2.83 +- 0.08,
    // b -1.01 +- 0.03): the augmentation must make them comparable.
    const scale = 2.6 + 0.5 * r();
    const w = randomUnit(r);
    directions.push(w);
    for (let j = 0; j < DIM; j++) weights[i * DIM + j] = scale * w[j];
    bias[i] = -0.9 - 0.2 * r();
  }
  const index = await HnswIndex.buildScored(weights, bias, DIM, { M: 16, efConstruction: 100, efSearch: 64, seed: 3 });
  const exact = await ExactIndex.create(weights, DIM, { bias });
  // Probes like faces: near some scorer's direction (uniformly random 128-d queries have no near neighbour, the
  // case graph indexes are worst at and faces never are).
  const queries = Array.from({ length: 200 }, (_, i) => face(r, directions[(i * 97) % n], 0.05));
  const want = await exact.search(queries, 1);
  const got = await index.search(queries, 3);
  let hits = 0;
  got.forEach((h, i) => {
    if (h.ids[0] === want[i].ids[0]) hits++;
    for (let t = 0; t < h.ids.length; t++) {
      const id = h.ids[t];
      let s = bias[id];
      for (let j = 0; j < DIM; j++) s += weights[id * DIM + j] * queries[i][j];
      assert.ok(Math.abs(h.scores[t] - s) < 1e-3, `score ${h.scores[t]} vs w·x + b ${s}`);
    }
  });
  assert.ok(hits >= 194, `top scorer found for ${hits}/200`);
  const dir = await mkdtemp(path.join(tmpdir(), 'facestream-hnsw-'));
  try {
    await index.save(path.join(dir, 's.bin'));
    await assert.rejects(HnswIndex.load(path.join(dir, 's.bin'), { dim: DIM }), /holds 128-d scorers, expected 128-d points/);
    const loaded = await HnswIndex.load(path.join(dir, 's.bin'), { dim: DIM, scored: true }, { efSearch: 64 });
    assert.deepEqual(Array.from((await loaded.search(queries.slice(0, 5), 3))[4].ids), Array.from(got[4].ids));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  await assert.rejects(HnswIndex.buildScored(weights, new Float32Array(3), DIM), /bias must be a Float32Array of 2000 values/);
});

test('efSearch and parameters are checked', async () => {
  const { rows } = unitRows(13, 10);
  await assert.rejects(HnswIndex.build(rows, DIM, { M: 1, efConstruction: 10, efSearch: 10, seed: 1 }), /M must be an integer >= 2/);
  const index = await HnswIndex.build(rows, DIM, { M: 8, efConstruction: 20, efSearch: 10, seed: 1 });
  assert.throws(() => index.setEfSearch(0), /efSearch must be a positive integer/);
  index.setEfSearch(32);
  assert.equal(index.efSearch, 32);
  assert.equal(index.searchOne(rows.subarray(3 * DIM, 4 * DIM), 1).ids[0], 3, 'a row is its own nearest neighbour');
  assert.throws(() => index.searchOne(new Float32Array(3), 1), /must be a Float32Array of 128 values/);
});
