/**
 * Small top-k selection for the indexes: a sorted insertion buffer per query (k is small, 1-50, so insertion beats
 * a heap), and the JS scoring loop of the exact index's small-gallery path.
 */
import type { SearchHits } from './types';

/**
 * The k largest (score, id) pairs offered so far, best first. Offered in ascending id order, ties keep the lower id
 * first (a later equal score goes after). NaN scores are ignored.
 */
export class TopK {
  readonly ids: Int32Array;
  readonly scores: Float32Array;
  count = 0;

  constructor(readonly k: number) {
    this.ids = new Int32Array(k);
    this.scores = new Float32Array(k);
  }

  /** The score a new pair must beat to enter (−Infinity until k pairs are held). */
  get floor(): number {
    return this.count < this.k ? -Infinity : this.scores[this.k - 1];
  }

  offer(id: number, value: number): void {
    // Compared as stored (float32): a float64 0.9 would otherwise beat a held float32 0.9.
    const score = Math.fround(value);
    if (score !== score) return;
    const k = this.k;
    let pos = this.count < k ? this.count : k - 1;
    if (this.count === k && !(score > this.scores[pos])) return;
    while (pos > 0 && score > this.scores[pos - 1]) {
      this.scores[pos] = this.scores[pos - 1];
      this.ids[pos] = this.ids[pos - 1];
      pos--;
    }
    this.scores[pos] = score;
    this.ids[pos] = id;
    if (this.count < k) this.count++;
  }

  /** The pairs held, as fresh arrays. */
  hits(): SearchHits {
    return { ids: this.ids.slice(0, this.count), scores: this.scores.slice(0, this.count) };
  }
}

/** The four sums of dot4, reused (one JS thread per isolate). */
const SUMS = new Float64Array(4);

/**
 * SUMS[i] = rows[o_i .. o_i + dim)·query for four row offsets, each summed in order in float64: four independent
 * chains, and four rows' memory fetched at once. The one inner loop of scoreRows and scoreRowsAt (V8 inlines it).
 */
function dot4(rows: Float32Array, dim: number, query: Float32Array, o0: number, o1: number, o2: number, o3: number): void {
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  for (let j = 0; j < dim; j++) {
    const x = query[j];
    s0 += rows[o0 + j] * x;
    s1 += rows[o1 + j] * x;
    s2 += rows[o2 + j] * x;
    s3 += rows[o3 + j] * x;
  }
  SUMS[0] = s0;
  SUMS[1] = s1;
  SUMS[2] = s2;
  SUMS[3] = s3;
}

/** rows[r]·query summed in order in float64 (the rows left over after the fours). */
function dot1(rows: Float32Array, dim: number, query: Float32Array, o: number): number {
  let s = 0;
  for (let j = 0; j < dim; j++) s += rows[o + j] * query[j];
  return s;
}

/**
 * out[r] = rows[r]·query (+ bias[r]) for every row, in float64 sums stored as float32 — the arithmetic of
 * svm.ts scoreAll (four rows per pass over the query), so an index over SVM weights ranks exactly as the matcher's
 * all-identities scoring does.
 */
export function scoreRows(rows: Float32Array, dim: number, query: Float32Array, out: Float32Array, bias?: Float32Array): Float32Array {
  const n = out.length;
  let r = 0;
  for (; r + 3 < n; r += 4) {
    const o = r * dim;
    dot4(rows, dim, query, o, o + dim, o + 2 * dim, o + 3 * dim);
    out[r] = bias ? SUMS[0] + bias[r] : SUMS[0];
    out[r + 1] = bias ? SUMS[1] + bias[r + 1] : SUMS[1];
    out[r + 2] = bias ? SUMS[2] + bias[r + 2] : SUMS[2];
    out[r + 3] = bias ? SUMS[3] + bias[r + 3] : SUMS[3];
  }
  for (; r < n; r++) out[r] = bias ? dot1(rows, dim, query, r * dim) + bias[r] : dot1(rows, dim, query, r * dim);
  return out;
}

/**
 * As scoreRows, over the rows `at` lists (out[t] for row at[t]): the same sums, so scores re-computed for an
 * approximate index's candidates equal the exact index's to the bit.
 */
export function scoreRowsAt(rows: Float32Array, dim: number, query: Float32Array, at: Uint32Array, out: Float32Array, bias?: Float32Array): Float32Array {
  const n = out.length;
  let t = 0;
  for (; t + 3 < n; t += 4) {
    const r0 = at[t];
    const r1 = at[t + 1];
    const r2 = at[t + 2];
    const r3 = at[t + 3];
    dot4(rows, dim, query, r0 * dim, r1 * dim, r2 * dim, r3 * dim);
    out[t] = bias ? SUMS[0] + bias[r0] : SUMS[0];
    out[t + 1] = bias ? SUMS[1] + bias[r1] : SUMS[1];
    out[t + 2] = bias ? SUMS[2] + bias[r2] : SUMS[2];
    out[t + 3] = bias ? SUMS[3] + bias[r3] : SUMS[3];
  }
  for (; t < n; t++) out[t] = bias ? dot1(rows, dim, query, at[t] * dim) + bias[at[t]] : dot1(rows, dim, query, at[t] * dim);
  return out;
}
