/**
 * Nearest-row search over a gallery-sized matrix: the common shape of the exact (onnxruntime GEMM) and
 * approximate (HNSW) indexes, so the matcher's candidate path (candidates.ts) can use either.
 *
 * Rows are `dim` float32 values; a row's score for a query is their inner product (plus the row's bias, where the
 * index has one). On unit vectors the inner product orders rows like cosine and euclidean distance do.
 */

/** One query's hits, best first. `ids` are row numbers (0-based, in the order the rows were given). */
export interface SearchHits {
  ids: Int32Array;
  /** Inner product (+ bias) of each hit, as the index computed it (float32). */
  scores: Float32Array;
}

export interface GalleryIndex {
  /** 'exact' (every row scored) or 'hnsw' (approximate). */
  readonly kind: 'exact' | 'hnsw';
  /** Rows indexed. */
  readonly size: number;
  readonly dim: number;
  /**
   * The k best rows of each query (fewer when the index holds fewer). Queries must be `dim` long and finite; they
   * are not normalised here. Ties are broken by the lower row number (exact index).
   */
  search(queries: readonly Float32Array[], k: number): Promise<SearchHits[]>;
  /** Releases native resources; search() fails afterwards. */
  close(): Promise<void>;
}

/** Throws a RangeError naming the query when it does not fit the index. */
export function checkQueries(queries: readonly Float32Array[], dim: number, k: number): void {
  if (!Number.isInteger(k) || k < 1) throw new RangeError(`search: k must be a positive integer, got ${k}`);
  for (let q = 0; q < queries.length; q++) {
    const v = queries[q];
    if (!(v instanceof Float32Array) || v.length !== dim) {
      const got = v instanceof Float32Array ? `${v.length} values` : typeof v;
      throw new RangeError(`search: query ${q} must be a Float32Array of ${dim} values, got ${got}`);
    }
    for (let j = 0; j < dim; j++) {
      if (!Number.isFinite(v[j])) throw new RangeError(`search: query ${q} has a non-finite value at index ${j}`);
    }
  }
}

/** Checks a row-major matrix of `dim`-long rows; returns the row count. */
export function rowCount(rows: Float32Array, dim: number, what: string): number {
  if (!Number.isInteger(dim) || dim < 1) throw new RangeError(`${what}: dim must be a positive integer, got ${dim}`);
  if (!(rows instanceof Float32Array) || rows.length % dim !== 0) {
    throw new RangeError(`${what}: expected a Float32Array of n x ${dim} values, got ${rows instanceof Float32Array ? rows.length : typeof rows}`);
  }
  return rows.length / dim;
}
