/**
 * Exact gallery search: every row is scored. Large galleries go through onnxruntime (its MLAS GEMM; pure JS loops
 * run ~10x below GEMM speed), small ones through a JS loop that avoids onnxruntime's per-run overhead.
 *
 * The rows are used in place (never copied): chunks of `chunkRows` rows are fed as tensor views, each run scores a
 * [queries x chunk] block and keeps its top k (exact-graph.ts), and the chunks' top-k lists are merged here.
 * onnxruntime-node runs a session synchronously on the calling thread, so each chunk run blocks the event loop for
 * its duration: chunking bounds that stall (about 15-40 ms per 16k-row chunk at 256 queries on 2 cores) and the
 * loop gets a turn between chunks. Queries are run in blocks of at most `maxQueries`.
 *
 * The caller must not modify the rows (or bias) while the index is in use.
 */
import * as ort from 'onnxruntime-node';
import { EXACT_IO, topKScoringModel } from './exact-graph';
import { scoreRows, TopK } from './topk';
import { checkQueries, type GalleryIndex, rowCount, type SearchHits } from './types';

export interface ExactIndexOptions {
  /** Per-row bias added to the inner product (an SVM's b); length = rows. */
  bias?: Float32Array;
  /** Rows per onnxruntime run. Default 16384 (measured best of 2k-128k at N = 100k). */
  chunkRows?: number;
  /**
   * A search scoring at most this many rows x queries runs in JS instead (onnxruntime's ~70 us per-run overhead
   * beats its speed there). Default 384: measured for one query (2-core machine), JS vs onnxruntime: 128 rows
   * 26 vs 84 us, 256 rows 56 vs 75 us, 512 rows 108 vs 73 us, 1024 rows 204 vs 104 us. 0: always onnxruntime.
   */
  jsMaxRows?: number;
  /** Queries per onnxruntime run (bounds the score block to maxQueries x chunkRows floats). Default 256. */
  maxQueries?: number;
  /**
   * onnxruntime intra-op threads (default: onnxruntime's, one per physical core). On cores shared with other busy
   * processes 1 can be faster (measured at 100k rows, batch 256, load ~3 on 2 cores: 0.50 ms/query with 1 thread,
   * 0.60 with 2).
   */
  intraOpNumThreads?: number;
}

interface Chunk {
  start: number;
  rows: number;
  feeds: Record<string, ort.Tensor>;
}

export class ExactIndex implements GalleryIndex {
  readonly kind = 'exact' as const;
  private closed = false;

  private constructor(
    private readonly rows: Float32Array,
    readonly dim: number,
    readonly size: number,
    private readonly bias: Float32Array | undefined,
    private readonly session: ort.InferenceSession | undefined,
    private readonly chunks: Chunk[],
    private readonly maxQueries: number,
    private readonly jsMaxRows: number,
  ) {}

  /** Whether a search of this many queries runs in onnxruntime (false: the JS loop). */
  usesOnnxRuntime(queries: number): boolean {
    return this.session !== undefined && this.size * queries > this.jsMaxRows;
  }

  static async create(rows: Float32Array, dim: number, options: ExactIndexOptions = {}): Promise<ExactIndex> {
    const n = rowCount(rows, dim, 'ExactIndex');
    const { bias } = options;
    if (bias !== undefined && (!(bias instanceof Float32Array) || bias.length !== n)) {
      throw new RangeError(`ExactIndex: bias must be a Float32Array of ${n} values (one per row), got ${bias instanceof Float32Array ? bias.length : typeof bias}`);
    }
    const chunkRows = options.chunkRows ?? 16384;
    const jsMaxRows = options.jsMaxRows ?? 384;
    const maxQueries = options.maxQueries ?? 256;
    for (const [name, v] of [['chunkRows', chunkRows], ['maxQueries', maxQueries]] as const) {
      if (!Number.isInteger(v) || v < 1) throw new RangeError(`ExactIndex: ${name} must be a positive integer, got ${v}`);
    }
    if (!(jsMaxRows >= 0)) throw new RangeError(`ExactIndex: jsMaxRows must be >= 0, got ${jsMaxRows}`);
    if (n === 0 || n * maxQueries <= jsMaxRows) return new ExactIndex(rows, dim, n, bias, undefined, [], maxQueries, jsMaxRows);
    const session = await ort.InferenceSession.create(topKScoringModel(dim, bias !== undefined), {
      executionProviders: ['cpu'],
      graphOptimizationLevel: 'all',
      ...(options.intraOpNumThreads !== undefined ? { intraOpNumThreads: options.intraOpNumThreads } : {}),
    });
    const chunks: Chunk[] = [];
    for (let start = 0; start < n; start += chunkRows) {
      const m = Math.min(chunkRows, n - start);
      const feeds: Record<string, ort.Tensor> = {
        [EXACT_IO.rows]: new ort.Tensor('float32', rows.subarray(start * dim, (start + m) * dim), [m, dim]),
      };
      if (bias) feeds[EXACT_IO.bias] = new ort.Tensor('float32', bias.subarray(start, start + m), [m]);
      chunks.push({ start, rows: m, feeds });
    }
    return new ExactIndex(rows, dim, n, bias, session, chunks, maxQueries, jsMaxRows);
  }

  async search(queries: readonly Float32Array[], k: number): Promise<SearchHits[]> {
    if (this.closed) throw new Error('ExactIndex: search after close()');
    checkQueries(queries, this.dim, k);
    const kk = Math.min(k, this.size);
    if (queries.length === 0) return [];
    if (kk === 0) return queries.map(() => ({ ids: new Int32Array(0), scores: new Float32Array(0) }));
    if (!this.usesOnnxRuntime(queries.length)) return queries.map((q) => this.searchJs(q, kk));
    const out: SearchHits[] = [];
    for (let s = 0; s < queries.length; s += this.maxQueries) {
      out.push(...(await this.searchOrt(queries.slice(s, s + this.maxQueries), kk)));
    }
    return out;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.session?.release();
  }

  private searchJs(query: Float32Array, k: number): SearchHits {
    const scores = scoreRows(this.rows, this.dim, query, new Float32Array(this.size), this.bias);
    const top = new TopK(k);
    for (let r = 0; r < scores.length; r++) if (scores[r] > top.floor) top.offer(r, scores[r]);
    return top.hits();
  }

  private async searchOrt(queries: readonly Float32Array[], k: number): Promise<SearchHits[]> {
    const b = queries.length;
    const dim = this.dim;
    const packed = new Float32Array(b * dim);
    for (let q = 0; q < b; q++) packed.set(queries[q], q * dim);
    const qt = new ort.Tensor('float32', packed, [b, dim]);
    const tops = queries.map(() => new TopK(k));
    for (const c of this.chunks) {
      const kc = Math.min(k, c.rows);
      const res = await this.session!.run({ ...c.feeds, [EXACT_IO.queries]: qt, [EXACT_IO.k]: new ort.Tensor('int64', BigInt64Array.of(BigInt(kc)), [1]) });
      const values = res[EXACT_IO.values].data as Float32Array;
      const indices = res[EXACT_IO.indices].data as BigInt64Array;
      for (let q = 0; q < b; q++) {
        const top = tops[q];
        for (let i = q * kc, end = i + kc; i < end; i++) {
          const v = values[i];
          if (!(v > top.floor)) break; // sorted: the rest of this chunk's list is no better
          top.offer(c.start + Number(indices[i]), v);
        }
      }
      for (const t of Object.values(res)) t.dispose?.();
    }
    return tops.map((t) => t.hits());
  }
}
