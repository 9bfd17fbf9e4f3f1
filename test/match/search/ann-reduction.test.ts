import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fitAxes, loadReduction, projectRow, saveReduction, storedQuery, storedRow } from '../../../src/match/search/ann-reduction';
import { randomUnit, rng } from '../synthetic';

const DIM = 16;

/** n scorers whose weights span `rank` directions around a common offset, with biases. */
function scorers(seed: number, n: number, rank: number): { weights: Float32Array; bias: Float32Array } {
  const r = rng(seed);
  const axes = Array.from({ length: rank }, () => randomUnit(r, DIM));
  const offset = randomUnit(r, DIM);
  const weights = new Float32Array(n * DIM);
  const bias = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < DIM; j++) weights[i * DIM + j] = 2 * offset[j];
    for (const a of axes) {
      const c = r() - 0.5;
      for (let j = 0; j < DIM; j++) weights[i * DIM + j] += c * a[j];
    }
    bias[i] = -1 + 0.1 * (r() - 0.5);
  }
  return { weights, bias };
}

test('keeps as many axes as the rows span (the bias counts as one), and every axis with discardVariance 0', () => {
  const { weights, bias } = scorers(1, 500, 5);
  const red = fitAxes(weights, bias, DIM, 500, 1e-6);
  assert.equal(red.inputDim, DIM + 1);
  assert.equal(red.components, 6, '5 weight directions + the bias');
  assert.ok(red.discarded <= 1e-6);
  assert.equal(fitAxes(weights, bias, DIM, 500, 0).components, DIM + 1);
  assert.equal(fitAxes(weights, undefined, DIM, 500, 1e-6).components, 5);
  // The axes are orthonormal.
  for (let a = 0; a < red.components; a++) {
    for (let b = 0; b < red.components; b++) {
      let s = 0;
      for (let j = 0; j < red.inputDim; j++) s += red.basis[a * red.inputDim + j] * red.basis[b * red.inputDim + j];
      assert.ok(Math.abs(s - (a === b ? 1 : 0)) < 1e-9, `axes ${a}, ${b}: ${s}`);
    }
  }
});

test('stored rows are unit vectors and rank like the scores w·x + b for any query', () => {
  const n = 300;
  const { weights, bias } = scorers(2, n, 6);
  const red = fitAxes(weights, bias, DIM, n, 1e-9);
  const scratch = new Float64Array(red.inputDim);
  const p = new Float64Array(red.components);
  let r2 = 0;
  for (let i = 0; i < n; i++) r2 = Math.max(r2, projectRow(red, weights, bias, DIM, i, scratch, p));
  red.radius = Math.sqrt(r2);
  const stored = Array.from({ length: n }, (_, i) => {
    const out = new Float32Array(red.components + 1);
    storedRow(red, weights, bias, DIM, i, scratch, p, out);
    return out;
  });
  for (const s of stored) assert.ok(Math.abs(Math.hypot(...s) - 1) < 1e-5, 'unit row');
  const r = rng(3);
  for (let t = 0; t < 20; t++) {
    const x = randomUnit(r, DIM);
    const q = new Float32Array(red.components + 1);
    storedQuery(red, x, DIM, q);
    assert.equal(q[red.components], 0, 'the query has no augmentation');
    const score = (i: number): number => {
      let s = bias[i];
      for (let j = 0; j < DIM; j++) s += weights[i * DIM + j] * x[j];
      return s;
    };
    const dot = (i: number): number => stored[i].reduce((s, v, j) => s + v * q[j], 0);
    const byScore = Array.from({ length: n }, (_, i) => i).sort((a, b) => score(b) - score(a));
    const byDot = Array.from({ length: n }, (_, i) => i).sort((a, b) => dot(b) - dot(a));
    assert.deepEqual(byDot.slice(0, 5), byScore.slice(0, 5), `query ${t}: the same best rows`);
  }
});

test('saved reductions load back, and a reduction for other rows is refused with the reason', () => {
  const { weights, bias } = scorers(4, 100, 3);
  const red = fitAxes(weights, bias, DIM, 100, 1e-6);
  const back = loadReduction(JSON.parse(JSON.stringify(saveReduction(red))), DIM + 1);
  assert.deepEqual(Array.from(back.basis), Array.from(red.basis));
  assert.deepEqual(Array.from(back.mean), Array.from(red.mean));
  assert.throws(() => loadReduction(saveReduction(red), DIM), /does not fit 16-wide rows/);
  assert.throws(() => loadReduction({ ...saveReduction(red), basis: [1, 2] }, DIM + 1), /a basis of components x 17 values/);
  const bad = weights.slice();
  bad[3] = Infinity;
  assert.throws(() => fitAxes(bad, bias, DIM, 100, 1e-6), /non-finite/);
});
