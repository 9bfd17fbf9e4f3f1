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

/**
 * out[r] = rows[r]·query (+ bias[r]) for every row, in float64 sums stored as float32 — the arithmetic of
 * svm.ts scoreAll (four rows per pass over the query), so an index over SVM weights ranks exactly as the matcher's
 * all-identities scoring does.
 */
export function scoreRows(rows: Float32Array, dim: number, query: Float32Array, out: Float32Array, bias?: Float32Array): Float32Array {
  return scoreRowsAt(rows, dim, query, undefined, out, bias);
}

/**
 * As scoreRows, over the rows `at` lists (out[t] for row at[t]; every row when `at` is undefined): the same sums,
 * so scores re-computed for an approximate index's candidates equal the exact index's to the bit. Four rows at a
 * time, each summed in order: four independent chains, and four rows' memory fetched at once.
 */
export function scoreRowsAt(rows: Float32Array, dim: number, query: Float32Array, at: Uint32Array | undefined, out: Float32Array, bias?: Float32Array): Float32Array {
  const n = out.length;
  let t = 0;
  for (; t + 3 < n; t += 4) {
    const r0 = at ? at[t] : t;
    const r1 = at ? at[t + 1] : t + 1;
    const r2 = at ? at[t + 2] : t + 2;
    const r3 = at ? at[t + 3] : t + 3;
    const o0 = r0 * dim;
    const o1 = r1 * dim;
    const o2 = r2 * dim;
    const o3 = r3 * dim;
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
    out[t] = bias ? s0 + bias[r0] : s0;
    out[t + 1] = bias ? s1 + bias[r1] : s1;
    out[t + 2] = bias ? s2 + bias[r2] : s2;
    out[t + 3] = bias ? s3 + bias[r3] : s3;
  }
  for (; t < n; t++) {
    const r = at ? at[t] : t;
    const o = r * dim;
    let s = 0;
    for (let j = 0; j < dim; j++) s += rows[o + j] * query[j];
    out[t] = bias ? s + bias[r] : s;
  }
  return out;
}
