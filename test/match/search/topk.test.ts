import assert from 'node:assert/strict';
import { test } from 'node:test';
import { scoreRows, scoreRowsAt, TopK } from '../../../src/match/search/topk';
import { rng } from '../synthetic';

const DIM = 13;

function randomRows(seed: number, n: number): { rows: Float32Array; bias: Float32Array; query: Float32Array } {
  const r = rng(seed);
  const rows = Float32Array.from({ length: n * DIM }, () => r() - 0.5);
  const bias = Float32Array.from({ length: n }, () => r() - 0.5);
  const query = Float32Array.from({ length: DIM }, () => r() - 0.5);
  return { rows, bias, query };
}

test('scoreRows: each row summed in order in float64, plus its bias, stored as float32', () => {
  for (const n of [0, 1, 3, 4, 7, 10]) {
    const { rows, bias, query } = randomRows(n + 1, n);
    for (const b of [undefined, bias]) {
      const got = scoreRows(rows, DIM, query, new Float32Array(n), b);
      for (let i = 0; i < n; i++) {
        let s = 0;
        for (let j = 0; j < DIM; j++) s += rows[i * DIM + j] * query[j];
        assert.equal(got[i], Math.fround(b ? s + b[i] : s), `row ${i} of ${n}${b ? ' with bias' : ''}`);
      }
    }
  }
});

test('scoreRowsAt gives the rows it lists exactly what scoreRows gives them (any count, repeats, any order)', () => {
  const n = 50;
  const { rows, bias, query } = randomRows(9, n);
  for (const b of [undefined, bias]) {
    const all = scoreRows(rows, DIM, query, new Float32Array(n), b);
    for (const at of [[], [7], [49, 0, 3], [1, 2, 3, 4, 5, 6, 7], [10, 10, 48, 2, 33, 17, 0, 9, 41]]) {
      const got = scoreRowsAt(rows, DIM, query, Uint32Array.from(at), new Float32Array(at.length), b);
      assert.deepEqual(Array.from(got), at.map((i) => all[i]), `rows ${at.join(',')}${b ? ' with bias' : ''}`);
    }
  }
});

test('TopK keeps the k best, ties in offer order, NaN ignored', () => {
  const top = new TopK(3);
  [0.5, NaN, 0.9, 0.5, 0.1, 0.9].forEach((s, i) => top.offer(i, s));
  const h = top.hits();
  assert.deepEqual(Array.from(h.ids), [2, 5, 0]);
  assert.deepEqual(Array.from(h.scores), [0.9, 0.9, 0.5].map(Math.fround));
});
