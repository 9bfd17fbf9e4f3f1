/**
 * What the approximate index's graph holds for each row, and the matching query vector: a reduction of
 * maximum-inner-product search over rows [w_i, b_i] (or plain rows w_i) to nearest neighbours by angle, in fewer
 * dimensions. Pure arithmetic; ann-index.ts does the I/O.
 *
 *   v_i = [w_i, b_i] - m          m: the mean row. Every row's score for a query x moves by the same -m·[x, 1], so
 *                                 the ranking is unchanged; the large component all face embeddings share (the
 *                                 mean face, norm ~0.92) goes, and the part that tells identities apart gets the
 *                                 8-bit range.
 *   p_i = P v_i                   P: principal axes of the v_i (K x d), those that carry the scores (below).
 *   row_i = [p_i / R, sqrt(1 - |p_i|² / R²)]     R = max |p_i|: unit rows;
 *   query = [P [x, 1], 0] / |P [x, 1]|           row_i · query ∝ p_i · P [x, 1] ≈ score_i - m·[x, 1].
 *
 * Which axes: an axis a carries var(v·a) · E[(q·a)²] of the scores' variance. The axes carrying least are dropped
 * first, as many as fit `discardVariance` together (so the ones carrying scores stay, however little the rows vary
 * along them). Ranking axes by the rows' variance alone is wrong for faces: the queries (face embeddings, x with a 1
 * for the bias) put ~85% of their weight on the mean-face direction, along which the centred rows vary little (rank
 * ~57 of 80 by variance at 1M synthetic scorers), yet it carries ~20% of the scores' variance; cut by variance to 47
 * axes, recall@1 fell from 0.99 to 0.54 (300k scorers). E[q qᵀ] is estimated from the rows themselves, each as a
 * query would look like it: [w/|w|, 1] (a scorer points at its identity's faces) or w/|w| for plain rows (enrolled
 * embeddings are faces).
 * How many: the default allowance, 3e-4, keeps 63 of 129 axes at 1M synthetic scorers, so an 8-bit row (63 + 1
 * augmentation) is 64 bytes, two cache lines, where 76 axes (allowance 1e-5) made 77-byte rows and every fifth one
 * straddled a third line. Same process, same probes: 6–9% faster searches and recall@1 0.9915 against 0.9902 at
 * expansionSearch 192 (bench:distributed). Fewer did not pay: 55 and 47 axes (0.1% and 0.4% of the variance) lost
 * recall at 300k (0.9917 / 0.9893 against 0.9941 at beam 128) for ~3% speed. (Dropping the least varied axes first,
 * as this did before, reached 64-byte rows only by dropping 1.3% of the variance, the bias axis among it, and lost
 * recall on strangers, whose best scores are near-ties that the small axes decide.)
 *
 * 8-bit storage: USearch stores an i8 row as trunc(127 · y / |y|) of the floats y it is given (index_plugins.hpp,
 * cast_to_i8_gt). Truncation has twice the error of rounding; roundedForI8 gives it floats for which that cast
 * yields round(β · y / |y|) (β ≤ 127, found per row), so the graph's 8-bit scores err half as much: the true best
 * row among the 8-bit top 16 for 100% of probes instead of 99.2% (300k scorers, brute force). Through the graph:
 * +0.002 recall@1 at 300k; at 1M within the variation between two builds.
 *
 * The approximation is only the scores' variance dropped and the graph's 8-bit storage: the index re-scores its
 * candidates exactly, so neither decides a result, they only decide which rows are candidates.
 *
 * The eigen-decomposition is ml-matrix's (symmetric, d x d, d = 129 for 128-d SVMs); the moments are estimated on
 * at most `sampleRows` evenly spaced rows.
 */
import { EigenvalueDecomposition, Matrix } from 'ml-matrix';

export interface Reduction {
  /** Row width before reduction: dim (+1 with biases). */
  inputDim: number;
  /** Principal axes kept. */
  components: number;
  mean: Float64Array;
  /** components x inputDim, row-major: the axes, most varied first. */
  basis: Float64Array;
  /** max |p_i| (1 for an empty or constant gallery). */
  radius: number;
  /** Share of the scores' variance the dropped axes carried (estimated). */
  discarded: number;
  /** Rows and queries are written so that USearch's 8-bit cast rounds (roundedForI8). */
  roundI8: boolean;
}

/** A reduction as JSON keeps it (save()/load()). */
export interface SavedReduction {
  inputDim: number;
  components: number;
  mean: number[];
  basis: number[];
  radius: number;
  discarded: number;
  /** Absent in files written before rounding (they were built from plain floats). */
  roundI8?: boolean;
}

export interface FitOptions {
  /** Rows 8-bit: write rows and queries for a rounding cast. */
  roundI8?: boolean;
  /** Rows the moments are estimated on (evenly spaced; default 100 000). */
  sampleRows?: number;
}

/** Changes when the same rows and parameters would give another stored graph (bench:distributed caches by it). */
export const REDUCTION_LAYOUT = 'r3';

/** Row r as [w_r, b_r] minus the mean, into out (length inputDim). */
function centred(rows: Float32Array, bias: Float32Array | undefined, dim: number, r: number, mean: Float64Array, out: Float64Array): Float64Array {
  for (let j = 0; j < dim; j++) out[j] = rows[r * dim + j] - mean[j];
  if (bias) out[dim] = bias[r] - mean[dim];
  return out;
}

/** How a query for row r's identity would look: [w_r/|w_r|, 1] (or w_r/|w_r|) into out; false for a zero row. */
function queryLike(rows: Float32Array, bias: Float32Array | undefined, dim: number, r: number, out: Float64Array): boolean {
  let s = 0;
  for (let j = 0; j < dim; j++) s += rows[r * dim + j] * rows[r * dim + j];
  if (!(s > 0)) return false;
  const k = 1 / Math.sqrt(s);
  for (let j = 0; j < dim; j++) out[j] = rows[r * dim + j] * k;
  if (bias) out[dim] = 1;
  return true;
}

/** Adds v vᵀ to the upper triangle of the d x d matrix m. */
function addOuter(m: Float64Array, v: Float64Array, d: number): void {
  for (let a = 0; a < d; a++) {
    const va = v[a];
    if (va === 0) continue;
    for (let b = a; b < d; b++) m[a * d + b] += va * v[b];
  }
}

/** x · M · x for M symmetric, stored in its upper triangle. */
function quadratic(m: Float64Array, x: ArrayLike<number>, d: number): number {
  let s = 0;
  for (let a = 0; a < d; a++) {
    s += m[a * d + a] * x[a] * x[a];
    for (let b = a + 1; b < d; b++) s += 2 * m[a * d + b] * x[a] * x[b];
  }
  return s;
}

/** Mean and principal axes of the rows, those carrying the scores (see the top of the file); radius left at 1. */
export function fitAxes(rows: Float32Array, bias: Float32Array | undefined, dim: number, n: number, discardVariance: number, options: FitOptions = {}): Reduction {
  const d = dim + (bias ? 1 : 0);
  const mean = new Float64Array(d);
  for (let r = 0; r < n; r++) {
    for (let j = 0; j < dim; j++) mean[j] += rows[r * dim + j];
    if (bias) mean[dim] += bias[r];
  }
  if (n > 0) for (let j = 0; j < d; j++) mean[j] /= n;
  for (let j = 0; j < d; j++) if (!Number.isFinite(mean[j])) throw new RangeError('the rows hold non-finite values');
  const step = Math.max(1, Math.floor(n / (options.sampleRows ?? 100_000)));
  const cov = new Float64Array(d * d);
  const second = new Float64Array(d * d);
  const v = new Float64Array(d);
  let count = 0;
  let queries = 0;
  for (let r = 0; r < n; r += step, count++) {
    addOuter(cov, centred(rows, bias, dim, r, mean, v), d);
    if (queryLike(rows, bias, dim, r, v)) {
      addOuter(second, v, d);
      queries++;
    }
  }
  const c = new Matrix(d, d);
  for (let a = 0; a < d; a++) for (let b = a; b < d; b++) {
    const x = count > 0 ? cov[a * d + b] / count : 0;
    c.set(a, b, x);
    c.set(b, a, x);
  }
  const eig = new EigenvalueDecomposition(c, { assumeSymmetric: true });
  const vectors = eig.eigenvectorMatrix;
  const axis = (i: number): number[] => vectors.getColumn(i);
  const variance = eig.realEigenvalues.map((x) => Math.max(0, x));
  // What each axis carries of the scores: its variance over the rows x the queries' mean square along it.
  const carried = variance.map((x, i) => x * (queries > 0 ? Math.max(0, quadratic(second, axis(i), d) / queries) : 1));
  const total = carried.reduce((s, x) => s + x, 0);
  const byVariance = variance.map((_, i) => i).sort((a, b) => variance[b] - variance[a] || a - b);
  // The axes carrying the least of the scores first, dropped while their shares together fit the allowance: the
  // most axes it can drop. The kept axes stay in order of variance, most varied first.
  const byCarried = variance.map((_, i) => i).sort((a, b) => carried[a] - carried[b] || variance[a] - variance[b] || a - b);
  const drop = new Set<number>();
  let dropped = 0;
  for (const i of byCarried) {
    if (total <= 0 || discardVariance <= 0 || drop.size >= d - 1 || dropped + carried[i] > discardVariance * total) break;
    drop.add(i);
    dropped += carried[i];
  }
  const keep = byVariance.filter((i) => !drop.has(i));
  const kept = keep.length;
  const basis = new Float64Array(kept * d);
  keep.forEach((i, k) => basis.set(axis(i), k * d));
  return { inputDim: d, components: kept, mean, basis, radius: 1, discarded: total > 0 ? Math.max(0, dropped) / total : 0, roundI8: options.roundI8 === true };
}

/** p = P (row r - m) into out (length components); returns |p|². */
export function projectRow(red: Reduction, rows: Float32Array, bias: Float32Array | undefined, dim: number, r: number, scratch: Float64Array, out: Float64Array): number {
  centred(rows, bias, dim, r, red.mean, scratch);
  const d = red.inputDim;
  let s = 0;
  for (let k = 0; k < red.components; k++) {
    let x = 0;
    for (let j = 0, o = k * d; j < d; j++) x += red.basis[o + j] * scratch[j];
    out[k] = x;
    s += x * x;
  }
  return s;
}

/** The graph's row r (components + 1 values) into out, given radius. */
export function storedRow(red: Reduction, rows: Float32Array, bias: Float32Array | undefined, dim: number, r: number, scratch: Float64Array, p: Float64Array, out: Float32Array): void {
  const s = projectRow(red, rows, bias, dim, r, scratch, p);
  const k = red.components;
  for (let j = 0; j < k; j++) out[j] = p[j] / red.radius;
  out[k] = Math.sqrt(Math.max(0, 1 - s / (red.radius * red.radius)));
  if (red.roundI8) roundedForI8(out);
}

/** The graph's query for x: [P [x, 1], 0] normalised (a zero vector stays zero). */
export function storedQuery(red: Reduction, x: Float32Array, dim: number, out: Float32Array): void {
  const d = red.inputDim;
  const withBias = d > dim;
  const basis = red.basis;
  const K = red.components;
  let s = 0;
  let k = 0;
  // Four axes at a time, each summed in the same order as one at a time: four independent chains instead of one.
  for (; k + 3 < K; k += 4) {
    const o0 = k * d;
    const o1 = o0 + d;
    const o2 = o1 + d;
    const o3 = o2 + d;
    let v0 = withBias ? basis[o0 + dim] : 0;
    let v1 = withBias ? basis[o1 + dim] : 0;
    let v2 = withBias ? basis[o2 + dim] : 0;
    let v3 = withBias ? basis[o3 + dim] : 0;
    for (let j = 0; j < dim; j++) {
      const xj = x[j];
      v0 += basis[o0 + j] * xj;
      v1 += basis[o1 + j] * xj;
      v2 += basis[o2 + j] * xj;
      v3 += basis[o3 + j] * xj;
    }
    out[k] = v0;
    out[k + 1] = v1;
    out[k + 2] = v2;
    out[k + 3] = v3;
    s += v0 * v0;
    s += v1 * v1;
    s += v2 * v2;
    s += v3 * v3;
  }
  for (; k < K; k++) {
    const o = k * d;
    let v = withBias ? basis[o + dim] : 0;
    for (let j = 0; j < dim; j++) v += basis[o + j] * x[j];
    out[k] = v;
    s += v * v;
  }
  const f = s > 0 ? 1 / Math.sqrt(s) : 0;
  for (let k = 0; k < K; k++) out[k] *= f;
  out[K] = 0;
  if (red.roundI8) roundedForI8(out);
}

/** USearch's f32 → i8 cast (cast_to_i8_gt): trunc(clamp(127 · y / |y|)), |y| summed in doubles. */
export function usearchI8(y: Float32Array, out: Int8Array): Int8Array {
  let m = 0;
  for (let j = 0; j < y.length; j++) m += y[j] * y[j];
  m = Math.sqrt(m);
  for (let j = 0; j < y.length; j++) out[j] = m > 0 ? Math.trunc(Math.min(127, Math.max(-127, (y[j] * 127) / m))) : 0;
  return out;
}

let scratchI8 = { want: new Int8Array(0), cand: new Float32Array(0), got: new Int8Array(0) };

/**
 * Rewrites y (in place) so that usearchI8 of it is round(β · y / |y|), for the largest β ≤ 127 in steps of 1/4
 * that works (β ~125: the half-steps added to y lengthen it by ~2%). Values t become t ± 1/2, checked against the
 * cast; if no β works (not seen), y is left as it was, and the cast truncates as before.
 */
export function roundedForI8(y: Float32Array): void {
  let n = 0;
  for (let j = 0; j < y.length; j++) n += y[j] * y[j];
  n = Math.sqrt(n);
  if (!(n > 0)) return;
  // Scratch kept between calls (once per row and per query): grown when a wider row comes.
  if (scratchI8.cand.length < y.length) scratchI8 = { want: new Int8Array(y.length), cand: new Float32Array(y.length), got: new Int8Array(y.length) };
  const want = scratchI8.want.subarray(0, y.length);
  const cand = scratchI8.cand.subarray(0, y.length);
  const got = scratchI8.got.subarray(0, y.length);
  for (let beta = 127; beta >= 117; beta -= 0.25) {
    for (let j = 0; j < y.length; j++) {
      const t = Math.round((beta * y[j]) / n);
      want[j] = t;
      cand[j] = t === 0 ? 0 : t + (t > 0 ? 0.5 : -0.5);
    }
    usearchI8(cand, got);
    let same = true;
    for (let j = 0; j < y.length && same; j++) same = got[j] === want[j];
    if (same) {
      y.set(cand);
      return;
    }
  }
}

export function saveReduction(red: Reduction): SavedReduction {
  return { inputDim: red.inputDim, components: red.components, mean: Array.from(red.mean), basis: Array.from(red.basis), radius: red.radius, discarded: red.discarded, roundI8: red.roundI8 };
}

/** Checks a saved reduction's shape; throws naming what is wrong. */
export function loadReduction(s: SavedReduction, inputDim: number): Reduction {
  const ok =
    s &&
    s.inputDim === inputDim &&
    Number.isInteger(s.components) &&
    s.components >= 1 &&
    s.components <= inputDim &&
    Array.isArray(s.mean) &&
    s.mean.length === inputDim &&
    Array.isArray(s.basis) &&
    s.basis.length === s.components * inputDim &&
    typeof s.radius === 'number' &&
    s.radius > 0;
  if (!ok) throw new Error(`its reduction does not fit ${inputDim}-wide rows (expected inputDim ${inputDim}, a mean of ${inputDim} values, a basis of components x ${inputDim} values and a positive radius)`);
  return { inputDim, components: s.components, mean: Float64Array.from(s.mean), basis: Float64Array.from(s.basis), radius: s.radius, discarded: s.discarded, roundI8: s.roundI8 === true };
}
