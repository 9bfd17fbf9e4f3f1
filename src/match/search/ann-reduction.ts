/**
 * What the approximate index's graph holds for each row, and the matching query vector: a reduction of
 * maximum-inner-product search over rows [w_i, b_i] (or plain rows w_i) to nearest neighbours by angle, in fewer
 * dimensions. Pure arithmetic; ann-index.ts does the I/O.
 *
 *   v_i = [w_i, b_i] - m          m: the mean row. Every row's score for a query x moves by the same -m·[x, 1], so
 *                                 the ranking is unchanged; the large component all face embeddings share (the
 *                                 mean face, norm ~0.92) goes, and the part that tells identities apart gets the
 *                                 8-bit range.
 *   p_i = P v_i                   P: the top principal axes of the v_i (K x d), as many as keep all but
 *                                 `discardVariance` of their variance. Face embeddings use far fewer dimensions than
 *                                 they have (lfw-dev faceapi-resnet128: 77 of 128 carry all but 1e-5 of the
 *                                 variance), and the graph's cost grows with the width (measured: 130 → 80 bytes,
 *                                 a quarter faster at equal recall).
 *   row_i = [p_i / R, sqrt(1 - |p_i|² / R²)]     R = max |p_i|: unit rows;
 *   query = [P [x, 1], 0] / |P [x, 1]|           row_i · query ∝ p_i · P [x, 1] ≈ score_i - m·[x, 1].
 *
 * The approximation is only the variance dropped (and the graph's 8-bit storage): the index re-scores its
 * candidates exactly, so neither decides a result, they only decide which rows are candidates.
 *
 * The eigen-decomposition is ml-matrix's (symmetric, d x d, d = 129 for 128-d SVMs); the covariance is estimated
 * on at most `sampleRows` evenly spaced rows.
 */
import { EigenvalueDecomposition, Matrix } from 'ml-matrix';

export interface Reduction {
  /** Row width before reduction: dim (+1 with biases). */
  inputDim: number;
  /** Principal axes kept. */
  components: number;
  mean: Float64Array;
  /** components x inputDim, row-major: the axes, largest variance first. */
  basis: Float64Array;
  /** max |p_i| (1 for an empty or constant gallery). */
  radius: number;
  /** Fraction of the centred rows' variance the axes dropped. */
  discarded: number;
}

/** A reduction as JSON keeps it (save()/load()). */
export interface SavedReduction {
  inputDim: number;
  components: number;
  mean: number[];
  basis: number[];
  radius: number;
  discarded: number;
}

/** Row r as [w_r, b_r] minus the mean, into out (length inputDim). */
function centred(rows: Float32Array, bias: Float32Array | undefined, dim: number, r: number, mean: Float64Array, out: Float64Array): Float64Array {
  for (let j = 0; j < dim; j++) out[j] = rows[r * dim + j] - mean[j];
  if (bias) out[dim] = bias[r] - mean[dim];
  return out;
}

/** Mean and principal axes of the rows; radius left at 1 (measureRadius sets it). */
export function fitAxes(rows: Float32Array, bias: Float32Array | undefined, dim: number, n: number, discardVariance: number, sampleRows = 100_000): Reduction {
  const d = dim + (bias ? 1 : 0);
  const mean = new Float64Array(d);
  for (let r = 0; r < n; r++) {
    for (let j = 0; j < dim; j++) mean[j] += rows[r * dim + j];
    if (bias) mean[dim] += bias[r];
  }
  if (n > 0) for (let j = 0; j < d; j++) mean[j] /= n;
  for (let j = 0; j < d; j++) if (!Number.isFinite(mean[j])) throw new RangeError('the rows hold non-finite values');
  const step = Math.max(1, Math.floor(n / sampleRows));
  const cov = new Float64Array(d * d);
  const v = new Float64Array(d);
  let count = 0;
  for (let r = 0; r < n; r += step, count++) {
    centred(rows, bias, dim, r, mean, v);
    for (let a = 0; a < d; a++) {
      const va = v[a];
      if (va === 0) continue;
      for (let b = a; b < d; b++) cov[a * d + b] += va * v[b];
    }
  }
  const c = new Matrix(d, d);
  for (let a = 0; a < d; a++) for (let b = a; b < d; b++) {
    const x = count > 0 ? cov[a * d + b] / count : 0;
    c.set(a, b, x);
    c.set(b, a, x);
  }
  const eig = new EigenvalueDecomposition(c, { assumeSymmetric: true });
  const values = eig.realEigenvalues.map((x) => Math.max(0, x));
  const order = values.map((_, i) => i).sort((a, b) => values[b] - values[a]);
  const total = values.reduce((s, x) => s + x, 0);
  // The fewest axes whose dropped variance is within the allowance (at least one).
  let kept = d;
  let dropped = 0;
  while (kept > 1 && total > 0 && dropped + values[order[kept - 1]] <= discardVariance * total) dropped += values[order[--kept]];
  const vectors = eig.eigenvectorMatrix;
  const basis = new Float64Array(kept * d);
  for (let k = 0; k < kept; k++) for (let j = 0; j < d; j++) basis[k * d + j] = vectors.get(j, order[k]);
  return { inputDim: d, components: kept, mean, basis, radius: 1, discarded: total > 0 ? dropped / total : 0 };
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
}

/** The graph's query for x: [P [x, 1], 0] normalised (a zero vector stays zero). */
export function storedQuery(red: Reduction, x: Float32Array, dim: number, out: Float32Array): void {
  const d = red.inputDim;
  const withBias = d > dim;
  const basis = red.basis;
  const K = red.components;
  let s = 0;
  for (let k = 0; k < K; k++) {
    const o = k * d;
    let v = withBias ? basis[o + dim] : 0;
    for (let j = 0; j < dim; j++) v += basis[o + j] * x[j];
    out[k] = v;
    s += v * v;
  }
  const f = s > 0 ? 1 / Math.sqrt(s) : 0;
  for (let k = 0; k < K; k++) out[k] *= f;
  out[K] = 0;
}

export function saveReduction(red: Reduction): SavedReduction {
  return { inputDim: red.inputDim, components: red.components, mean: Array.from(red.mean), basis: Array.from(red.basis), radius: red.radius, discarded: red.discarded };
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
  return { inputDim, components: s.components, mean: Float64Array.from(s.mean), basis: Float64Array.from(s.basis), radius: s.radius, discarded: s.discarded };
}
