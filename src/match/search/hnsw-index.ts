/**
 * Approximate gallery search with HNSW (hnswlib, through hnswlib-node), inner-product space: on unit vectors the
 * best inner product is the nearest neighbour by cosine and euclidean distance alike.
 *
 * hnswlib-node takes plain number[] points and runs everything synchronously on the calling thread: a build of
 * 1M points takes many minutes (see bench:distributed), so build() yields to the event loop every `yieldEvery`
 * points and reports progress; save()/load() keep a built index on disk (hnswlib's own format).
 *
 * Two kinds of rows:
 *   build():       points as given (unit embeddings): score = inner product = cosine;
 *   buildScored(): linear scorers (an SVM's weights w_i and biases b_i), for maximum-inner-product search of
 *                  w_i·x + b_i. Each row is stored as [w_i, b_i, sqrt(R² - |w_i|² - b_i²)] (R: the largest
 *                  |[w_i, b_i]|) and each query as [x, 1, 0]: the inner product is exactly w_i·x + b_i, and every
 *                  stored row has norm R, so the best score is the nearest row by angle too, which is what the
 *                  HNSW graph navigates by (the usual reduction of MIPS to nearest-neighbour search).
 *                  It works as well as plain search when the scorers' norms are alike, as trained SVMs' are
 *                  (|w| within ~3%); with norms spread 2-12x the extra coordinate dominates the geometry and
 *                  recall suffers (measured: 44% recall@1 at efSearch 64 on 2000 such scorers).
 *
 * Parameters: M (graph degree; memory ~ 4·2M bytes per point on top of the vectors), efConstruction (build-time
 * beam), efSearch (query-time beam, >= k; the speed/recall knob, settable after loading). Labels are row numbers.
 * save() writes `<file>.json` next to the index (dimension, kind, size, parameters): hnswlib's file does not let a
 * reader check that it was built for the expected rows, so load() checks that description.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { HierarchicalNSW } from 'hnswlib-node';
import { checkQueries, type GalleryIndex, rowCount, type SearchHits } from './types';

/** What save() records next to the index file. */
interface SavedDescription {
  format: 'facestream-hnsw-1';
  dim: number;
  scored: boolean;
  size: number;
  params: HnswParams;
}

export interface HnswParams {
  M: number;
  efConstruction: number;
  efSearch: number;
  /** hnswlib's level-generator seed: the same rows, order and parameters give the same graph. */
  seed: number;
}

/**
 * Defaults from bench:distributed (synthetic 128-d galleries shaped like real faces, SVM scorer index, recall@1 of
 * the top identity against exact): efSearch 128 gives 0.996 at 100k and 0.964 at 1M, 256 gives 0.999 / 0.992.
 * M 32 beat M 16 at equal search time. Build on the 2-core development machine (shared): 100k in ~80 s,
 * 1M in ~32 min.
 */
export const DEFAULT_HNSW: HnswParams = { M: 32, efConstruction: 150, efSearch: 256, seed: 100 };

export interface HnswBuildOptions {
  /** Called every `yieldEvery` points and at the end. */
  onProgress?: (done: number, total: number) => void;
  /** Points added between yields to the event loop (default 10000). */
  yieldEvery?: number;
}

function checkParams(p: HnswParams): void {
  for (const [name, v, min] of [['M', p.M, 2], ['efConstruction', p.efConstruction, 1], ['efSearch', p.efSearch, 1]] as const) {
    if (!Number.isInteger(v) || v < min) throw new RangeError(`HNSW ${name} must be an integer >= ${min}, got ${v}`);
  }
  if (!Number.isInteger(p.seed)) throw new RangeError(`HNSW seed must be an integer, got ${p.seed}`);
}

export class HnswIndex implements GalleryIndex {
  readonly kind = 'hnsw' as const;
  private closed = false;
  private ef: number;

  private constructor(
    private readonly index: HierarchicalNSW,
    readonly dim: number,
    readonly size: number,
    readonly params: Readonly<HnswParams>,
    /** Rows are scorers (buildScored): queries get [x, 1, 0]. */
    readonly scored: boolean,
  ) {
    this.ef = params.efSearch;
    index.setEf(params.efSearch);
  }

  /** Builds an index over `rows` (n x dim, row-major); row r gets label r. */
  static async build(rows: Float32Array, dim: number, params: HnswParams = DEFAULT_HNSW, options: HnswBuildOptions = {}): Promise<HnswIndex> {
    return HnswIndex.construct(rows, undefined, dim, params, options);
  }

  /** Builds an index whose score for query x is weights[r]·x + bias[r] (see the file comment); row r gets label r. */
  static async buildScored(weights: Float32Array, bias: Float32Array, dim: number, params: HnswParams = DEFAULT_HNSW, options: HnswBuildOptions = {}): Promise<HnswIndex> {
    const n = rowCount(weights, dim, 'HnswIndex.buildScored');
    if (!(bias instanceof Float32Array) || bias.length !== n) {
      throw new RangeError(`HnswIndex.buildScored: bias must be a Float32Array of ${n} values (one per row), got ${bias instanceof Float32Array ? bias.length : typeof bias}`);
    }
    return HnswIndex.construct(weights, bias, dim, params, options);
  }

  private static async construct(rows: Float32Array, bias: Float32Array | undefined, dim: number, params: HnswParams, options: HnswBuildOptions): Promise<HnswIndex> {
    checkParams(params);
    const n = rowCount(rows, dim, 'HnswIndex.build');
    const yieldEvery = options.yieldEvery ?? 10000;
    const stored = bias ? dim + 2 : dim;
    const index = new HierarchicalNSW('ip', stored);
    index.initIndex({ maxElements: Math.max(1, n), m: params.M, efConstruction: params.efConstruction, randomSeed: params.seed });
    const squaredNorm = (r: number): number => {
      let s = bias ? bias[r] * bias[r] : 0;
      for (let j = r * dim, end = j + dim; j < end; j++) s += rows[j] * rows[j];
      return s;
    };
    let R2 = 0;
    if (bias) for (let r = 0; r < n; r++) R2 = Math.max(R2, squaredNorm(r));
    const point = new Array<number>(stored);
    for (let r = 0; r < n; r++) {
      const off = r * dim;
      for (let j = 0; j < dim; j++) point[j] = rows[off + j];
      if (bias) {
        point[dim] = bias[r];
        point[dim + 1] = Math.sqrt(Math.max(0, R2 - squaredNorm(r)));
      }
      index.addPoint(point, r);
      if ((r + 1) % yieldEvery === 0 && r + 1 < n) {
        options.onProgress?.(r + 1, n);
        await new Promise((resolve) => setImmediate(resolve));
      }
    }
    options.onProgress?.(n, n);
    return new HnswIndex(index, dim, n, { ...params }, bias !== undefined);
  }

  /**
   * Reads an index written by save(). Throws when its description (`<file>.json`) differs from `expect` in
   * dimension, kind (plain rows or scorers) or size. `efSearch` is applied now; M and efConstruction are the file's.
   */
  static async load(file: string, expect: { dim: number; size?: number; scored?: boolean }, options: { efSearch?: number } = {}): Promise<HnswIndex> {
    let saved: SavedDescription;
    try {
      saved = JSON.parse(await readFile(`${file}.json`, 'utf8')) as SavedDescription;
    } catch (err) {
      throw new Error(`HNSW index ${file}: cannot read its description ${file}.json (${(err as Error).message}); expected files written by HnswIndex.save()`);
    }
    if (saved.format !== 'facestream-hnsw-1') throw new Error(`HNSW index ${file}: unknown description format ${JSON.stringify(saved.format)}`);
    const scored = expect.scored === true;
    if (saved.dim !== expect.dim || saved.scored !== scored) {
      const kind = (sc: boolean): string => (sc ? 'scorers' : 'points');
      throw new Error(`HNSW index ${file} holds ${saved.dim}-d ${kind(saved.scored)}, expected ${expect.dim}-d ${kind(scored)}`);
    }
    if (expect.size !== undefined && saved.size !== expect.size) {
      throw new Error(`HNSW index ${file} holds ${saved.size} points, expected ${expect.size} (stale file: rebuild it)`);
    }
    const params = { ...saved.params, efSearch: options.efSearch ?? saved.params.efSearch };
    checkParams(params);
    const index = new HierarchicalNSW('ip', scored ? expect.dim + 2 : expect.dim);
    try {
      await index.readIndex(file);
    } catch (err) {
      throw new Error(`HNSW index ${file}: cannot read it (${(err as Error).message})`);
    }
    if (index.getCurrentCount() !== saved.size) {
      throw new Error(`HNSW index ${file} holds ${index.getCurrentCount()} points, its description says ${saved.size}`);
    }
    return new HnswIndex(index, expect.dim, saved.size, params, scored);
  }

  /** Writes the index (hnswlib's format) and its description `<file>.json`. */
  async save(file: string): Promise<void> {
    this.assertOpen();
    await this.index.writeIndex(file);
    const d: SavedDescription = { format: 'facestream-hnsw-1', dim: this.dim, scored: this.scored, size: this.size, params: { ...this.params, efSearch: this.ef } };
    await writeFile(`${file}.json`, `${JSON.stringify(d)}\n`);
  }

  get efSearch(): number {
    return this.ef;
  }

  /** The query-time beam; hnswlib uses max(efSearch, k). */
  setEfSearch(ef: number): void {
    if (!Number.isInteger(ef) || ef < 1) throw new RangeError(`HNSW efSearch must be a positive integer, got ${ef}`);
    this.ef = ef;
    this.index.setEf(ef);
  }

  /** One query, synchronously (hnswlib-node has no async search). */
  searchOne(query: Float32Array, k: number): SearchHits {
    this.assertOpen();
    checkQueries([query], this.dim, k);
    return this.searchUnchecked(query, Math.min(k, this.size));
  }

  async search(queries: readonly Float32Array[], k: number): Promise<SearchHits[]> {
    this.assertOpen();
    checkQueries(queries, this.dim, k);
    const kk = Math.min(k, this.size);
    return queries.map((q) => this.searchUnchecked(q, kk));
  }

  async close(): Promise<void> {
    // hnswlib-node frees the index with its JS object; drop our use of it.
    this.closed = true;
  }

  private searchUnchecked(query: Float32Array, k: number): SearchHits {
    if (k === 0) return { ids: new Int32Array(0), scores: new Float32Array(0) };
    const point = Array.from(query);
    if (this.scored) point.push(1, 0);
    const res = this.index.searchKnn(point, k);
    const m = res.neighbors.length;
    const ids = new Int32Array(m);
    const scores = new Float32Array(m);
    // hnswlib's inner-product "distance" is 1 - a·b (for scorers a·b = w·x + b); results come nearest first.
    for (let i = 0; i < m; i++) {
      ids[i] = res.neighbors[i];
      scores[i] = 1 - res.distances[i];
    }
    return { ids, scores };
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('HnswIndex: used after close()');
  }
}
