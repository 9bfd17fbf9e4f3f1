import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Index as UsearchGraph, MetricKind, ScalarKind } from 'usearch';
import { fitAxes, loadReduction, projectRow, roundedForI8, saveReduction, storedQuery, storedRow, usearchI8 } from '../../../src/match/search/ann-reduction';
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

/** n rows whose value on axis j is mean_j + sd_j x a standard normal draw ([mean, sd] per axis), seeded. */
function gaussianRows(seed: number, n: number, axes: [number, number][]): Float32Array {
  const r = rng(seed);
  const gauss = (): number => Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
  const rows = new Float32Array(n * axes.length);
  for (let i = 0; i < n; i++) axes.forEach(([mean, sd], j) => (rows[i * axes.length + j] = mean + sd * gauss()));
  return rows;
}

/** Whether one of the kept axes lies along input axis 0. */
function keepsAxis0(red: { components: number; inputDim: number; basis: Float64Array }): boolean {
  return Array.from({ length: red.components }, (_, k) => Math.abs(red.basis[k * red.inputDim])).some((x) => x > 0.9);
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
  assert.equal(back.roundI8, false);
  assert.equal(loadReduction(JSON.parse(JSON.stringify(saveReduction({ ...red, roundI8: true }))), DIM + 1).roundI8, true);
  const { roundI8: _, ...older } = saveReduction(red);
  assert.equal(loadReduction(older, DIM + 1).roundI8, false, 'files from before rounding load as built (plain floats)');
  assert.deepEqual(Array.from(back.mean), Array.from(red.mean));
  assert.throws(() => loadReduction(saveReduction(red), DIM), /does not fit 16-wide rows/);
  assert.throws(() => loadReduction({ ...saveReduction(red), basis: [1, 2] }, DIM + 1), /a basis of components x 17 values/);
  const bad = weights.slice();
  bad[3] = Infinity;
  assert.throws(() => fitAxes(bad, bias, DIM, 100, 1e-6), /non-finite/);
});

test('an axis the rows barely vary along is kept when the queries weigh it heavily (the mean-face direction)', () => {
  // Plain 16-d rows: a large common offset along axis 0 that varies a little (sd 0.03), 5 directions in axes 1-5
  // varying a lot, and axes 6-15 varying more than axis 0 (sd 0.045) but which no query weighs.
  const n = 2000;
  const axes: [number, number][] = [[3, 0.03], ...Array.from({ length: 5 }, (): [number, number] => [0, 0.3]), ...Array.from({ length: DIM - 6 }, (): [number, number] => [0, 0.045])];
  const red = fitAxes(gaussianRows(7, n, axes), undefined, DIM, n, 0.01);
  assert.ok(keepsAxis0(red), 'axis 0 (queries put ~95% of their weight there) is kept');
  assert.equal(red.components, 6, 'axes 1-5 and axis 0; the ten that vary more than axis 0 but carry no score are dropped');
  assert.ok(red.discarded <= 0.01);
});

test('the axes carrying the least of the scores go first: the most axes the allowance can drop', () => {
  // Plain 10-d rows: axis 0 a common offset that varies little (sd 0.01) but that every query weighs (~0.47% of the
  // scores' variance), axes 1-3 varying a lot (the scores), axes 4-9 varying more than axis 0 (sd 0.05) but carrying
  // ~0.03% each (~0.17% together). An allowance of 0.55% drops the six and keeps axis 0; dropping the least varied
  // axis first would drop axis 0 and leave room for only two of the six.
  const dim = 10;
  const n = 4000;
  const axes: [number, number][] = [[1, 0.01], ...Array.from({ length: 3 }, (): [number, number] => [0, 0.3]), ...Array.from({ length: 6 }, (): [number, number] => [0, 0.05])];
  const red = fitAxes(gaussianRows(9, n, axes), undefined, dim, n, 0.0055);
  assert.equal(red.components, 4, 'axes 0-3 kept, the six that carry least dropped');
  assert.ok(keepsAxis0(red), 'axis 0 is kept');
  assert.ok(red.discarded > 0.001 && red.discarded <= 0.0055, `discarded ${red.discarded}`);
});

test('roundedForI8: USearch\'s truncating 8-bit cast of the rewritten floats rounds; the graph computes with those values', () => {
  const r = rng(11);
  const width = 64;
  let truncErr = 0;
  let roundErr = 0;
  const rows: Float32Array[] = [];
  for (let t = 0; t < 300; t++) {
    const y = new Float32Array(width);
    for (let j = 0; j < width; j++) y[j] = (r() - 0.5) * (j < 8 ? 1 : 0.2);
    const norm = Math.hypot(...y);
    const plain = usearchI8(y, new Int8Array(width));
    const z = y.slice();
    roundedForI8(z);
    const got = usearchI8(z, new Int8Array(width));
    // got = round(beta * y / |y|) for one beta in [117, 127]: recover it from the largest value and check all.
    const beta = Array.from({ length: 41 }, (_, s) => 127 - s / 4).find((b) => y.every((v, j) => Math.round((b * v) / norm) === got[j]));
    assert.ok(beta !== undefined, `vector ${t}: the cast of the rewritten floats is a rounding`);
    for (let j = 0; j < width; j++) {
      truncErr += ((127 * y[j]) / norm - plain[j]) ** 2;
      roundErr += ((beta! * y[j]) / norm - got[j]) ** 2;
    }
    rows.push(z);
  }
  assert.ok(roundErr < truncErr / 3, `squared 8-bit error ${roundErr.toFixed(0)} rounded vs ${truncErr.toFixed(0)} truncated`);
  // The library computes distances (1 - dot for ip) from exactly these 8-bit values.
  const graph = new UsearchGraph({ dimensions: width, metric: MetricKind.IP, quantization: ScalarKind.I8, connectivity: 8, expansion_add: 64, expansion_search: 400, multi: false });
  const packed = new Float32Array(rows.length * width);
  rows.forEach((z, i) => packed.set(z, i * width));
  graph.add(BigUint64Array.from(rows, (_, i) => BigInt(i)), packed, 1);
  const q = new Float32Array(width).map(() => r() - 0.5);
  roundedForI8(q);
  const qi = usearchI8(q, new Int8Array(width));
  const found = graph.search(q, 5, 1);
  for (let h = 0; h < 5; h++) {
    const ri = usearchI8(rows[Number(found.keys[h])], new Int8Array(width));
    const want = 1 - ri.reduce((s, v, j) => s + v * qi[j], 0);
    assert.equal(found.distances[h], want, `hit ${h}: USearch's distance is 1 - the dot of the emulated 8-bit values`);
  }
});
