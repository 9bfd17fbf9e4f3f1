import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ExactIndex } from '../../../src/match/search/exact-index';
import { TopK } from '../../../src/match/search/topk';
import { rng } from '../synthetic';

const DIM = 16;

function randomRows(seed: number, n: number, dim = DIM): Float32Array {
  const r = rng(seed);
  return Float32Array.from({ length: n * dim }, () => r() * 2 - 1);
}

/** Brute force in float64: the k best (id, score) pairs, ties to the lower id. */
function bruteForce(rows: Float32Array, q: Float32Array, k: number, bias?: Float32Array): { ids: number[]; scores: number[] } {
  const n = rows.length / DIM;
  const all = Array.from({ length: n }, (_, i) => {
    let s = 0;
    for (let j = 0; j < DIM; j++) s += rows[i * DIM + j] * q[j];
    return { i, s: s + (bias ? bias[i] : 0) };
  });
  all.sort((a, b) => b.s - a.s || a.i - b.i);
  return { ids: all.slice(0, k).map((x) => x.i), scores: all.slice(0, k).map((x) => x.s) };
}

test('onnxruntime and JS paths both return the exact top k, across chunk boundaries, with and without bias', async () => {
  const n = 2500; // chunks of 1000: the last one is partial
  const rows = randomRows(1, n);
  const bias = Float32Array.from(randomRows(2, n, 1), (x) => x * 0.5);
  const queries = Array.from({ length: 37 }, (_, i) => randomRows(100 + i, 1));
  for (const b of [undefined, bias]) {
    const viaOrt = await ExactIndex.create(rows, DIM, { bias: b, chunkRows: 1000, jsMaxRows: 0, maxQueries: 16 });
    const viaJs = await ExactIndex.create(rows, DIM, { bias: b, jsMaxRows: Infinity });
    assert.equal(viaOrt.usesOnnxRuntime(1), true);
    assert.equal(viaJs.usesOnnxRuntime(100), false);
    for (const k of [1, 5]) {
      const [a, c] = [await viaOrt.search(queries, k), await viaJs.search(queries, k)];
      assert.equal(a.length, queries.length);
      queries.forEach((q, i) => {
        const want = bruteForce(rows, q, k, b);
        assert.deepEqual(Array.from(a[i].ids), want.ids, `onnxruntime, query ${i}, k ${k}, bias ${b !== undefined}`);
        assert.deepEqual(Array.from(c[i].ids), want.ids, `JS, query ${i}, k ${k}`);
        want.scores.forEach((s, t) => {
          assert.ok(Math.abs(a[i].scores[t] - s) < 1e-4, `score ${a[i].scores[t]} vs ${s}`);
          assert.ok(Math.abs(c[i].scores[t] - s) < 1e-5);
        });
      });
    }
    await viaOrt.close();
    await viaJs.close();
  }
});

test('by default a single query against a small gallery is scored in JS, a batch in onnxruntime', async () => {
  const index = await ExactIndex.create(randomRows(8, 300), DIM);
  assert.equal(index.usesOnnxRuntime(1), false);
  assert.equal(index.usesOnnxRuntime(2), true);
  const q = [randomRows(9, 1), randomRows(10, 1), randomRows(11, 1)];
  const batched = await index.search(q, 3);
  for (let i = 0; i < 3; i++) assert.deepEqual(Array.from((await index.search([q[i]], 3))[0].ids), Array.from(batched[i].ids));
});

test('k larger than the gallery returns every row; an empty batch returns nothing', async () => {
  const rows = randomRows(3, 7);
  const index = await ExactIndex.create(rows, DIM, { jsMaxRows: 0, chunkRows: 4 });
  const [hits] = await index.search([randomRows(4, 1)], 50);
  assert.deepEqual(Array.from(hits.ids).sort((x, y) => x - y), [0, 1, 2, 3, 4, 5, 6]);
  for (let t = 1; t < hits.scores.length; t++) assert.ok(hits.scores[t - 1] >= hits.scores[t], 'best first');
  assert.deepEqual(await index.search([], 3), []);
  await index.close();
  await assert.rejects(index.search([randomRows(4, 1)], 1), /after close/);
});

test('ties go to the lower row, in both paths and across chunks', async () => {
  const rows = new Float32Array(10 * DIM);
  for (const r of [2, 5, 8]) rows[r * DIM] = 1; // three identical best rows, in different chunks of 4
  const q = new Float32Array(DIM);
  q[0] = 1;
  for (const jsMaxRows of [0, Infinity]) {
    const index = await ExactIndex.create(rows, DIM, { jsMaxRows, chunkRows: 4 });
    const [hits] = await index.search([q], 2);
    assert.deepEqual(Array.from(hits.ids), [2, 5], `jsMaxRows ${jsMaxRows}`);
  }
});

test('bad input is refused with what was expected', async () => {
  await assert.rejects(ExactIndex.create(new Float32Array(10), DIM), /n x 16 values, got 10/);
  await assert.rejects(ExactIndex.create(randomRows(5, 3), DIM, { bias: new Float32Array(2) }), /bias must be a Float32Array of 3 values/);
  const index = await ExactIndex.create(randomRows(5, 3), DIM);
  await assert.rejects(index.search([new Float32Array(3)], 1), /query 0 must be a Float32Array of 16 values, got 3 values/);
  const nan = new Float32Array(DIM);
  nan[4] = NaN;
  await assert.rejects(index.search([randomRows(6, 1), nan], 1), /query 1 has a non-finite value at index 4/);
  await assert.rejects(index.search([randomRows(6, 1)], 0), /k must be a positive integer/);
});

test('TopK keeps the k best, best first, ignoring NaN', () => {
  const t = new TopK(3);
  for (const [id, s] of [[0, 0.5], [1, NaN], [2, 0.9], [3, 0.1], [4, 0.9], [5, 0.7]] as const) t.offer(id, s);
  const h = t.hits();
  assert.deepEqual(Array.from(h.ids), [2, 4, 5]);
  assert.deepEqual(Array.from(h.scores), [0.9, 0.9, 0.7].map(Math.fround));
});
