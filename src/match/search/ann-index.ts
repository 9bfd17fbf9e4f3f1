/**
 * Approximate gallery search: an HNSW graph from USearch (npm `usearch`, prebuilt N-API binaries, SimSIMD
 * distance kernels), over 8-bit quantised rows, with the graph's candidates re-scored exactly in float32.
 *
 * Rows are linear scorers (an SVM's weights w_i and biases b_i: score w_i·x + b_i) or plain points (unit
 * embeddings: score = inner product). The graph holds each row centred, projected on the principal axes that carry
 * the scores and augmented to a unit vector, so that the best score is the nearest row by angle (ann-reduction.ts),
 * stored as int8 (x127, rounded): a quarter of float32's memory and cheap VNNI dot products. Quantisation and the dropped variance blur
 * close scores, so each query asks the graph for `candidates` rows (default 32, at least k), scores those exactly
 * against the float32 rows the index keeps a reference to, and returns the k best by exact score. The graph's job
 * is only to get the exact best among its candidates.
 *
 * Measured with bench:distributed on synthetic galleries shaped like LFW faces (bench/distributed/synthetic.ts),
 * 2 shared cores, recall@1 = the exact path's top identity found: see README. The speed/recall knob is
 * expansionSearch (the query-time beam); connectivity (M) and expansionAdd (build-time beam) set the graph's
 * quality and its build time (1M scorers: minutes, so builds report progress and can be saved and loaded).
 *
 * Threads: USearch searches a batch on `threads` native threads (0 = one per core) and blocks the calling thread
 * meanwhile; search() and the build work in slices and yield to the event loop between them (a search slice of 64
 * queries takes ~30 ms at 1M rows, a build slice of 500 rows ~0.3 s; fitting the projection, once, ~2 s), so a
 * service keeps serving while it builds.
 * Memory order: after the build the graph's nodes are renumbered breadth-first (arrange(), usearch-layout.ts), so
 * that rows linked together sit together: the same graph and answers, searches ~7% faster at 1M (same-process A/B).
 * The graph so arranged is served memory-mapped from a private, unlinked file (arrange()): where the page cache
 * keeps it in 2 MiB pages, searches take another ~7% less at 1M.
 * USearch crashes the process on a damaged index file, so load() checks the file's sha256 first.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, open as openFile, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import path from 'node:path';
import { type BatchMatches, Index as UsearchGraph, type Matches, MetricKind, type ScalarKind } from 'usearch';
import { type AnnParams, checkParams, DEFAULT_ANN, type GraphLayout } from './ann-params';
import { fitAxes, loadReduction, projectRow, type Reduction, saveReduction, type SavedReduction, storedQuery, storedRow } from './ann-reduction';
import { scoreRowsAt, TopK } from './topk';
import { breadthFirstPieces } from './usearch-layout';
import { checkQueries, type GalleryIndex, rowCount, type SearchHits } from './types';

export { type AnnParams, type AnnQuantization, DEFAULT_ANN, type GraphLayout } from './ann-params';

export interface AnnBuildOptions {
  /** Called after every slice of rows added, and at the end. */
  onProgress?: (done: number, total: number) => void;
  /** Rows added per slice between yields to the event loop (default 500: ~0.3 s at 1M rows on 2 cores). */
  sliceRows?: number;
  /** Stops the build between slices (it then rejects with an AbortError): a build nobody will use. */
  signal?: AbortSignal;
  /**
   * The graph's memory order: 'breadth-first' (default) renumbers its nodes after the build so that linked rows sit
   * together (usearch-layout.ts; the same graph and answers, faster searches), in a file of the graph's size
   * (~470 MB at 1M scorers) in `tempDir` that the graph is then searched from, memory-mapped (arrange());
   * 'insertion' keeps USearch's order, in the heap.
   */
  layout?: GraphLayout;
  /** Where the graph's file goes (default: the OS temporary directory); it holds the graph until close(). */
  tempDir?: string;
  /** Told when the breadth-first layout or its mapping could not be made (the graph then stays in insertion order, in the heap, and works). */
  onLayoutFailed?: (reason: string) => void;
}

/** Threads one process may run at once (searches ask USearch for no more: searchThreads()). */
const CORES = availableParallelism();

/** Rows searched to check a renumbered graph against the one it came from (the same keys, or it is not used). */
const LAYOUT_CHECK_QUERIES = 32;

/** What save() writes to `<file>.json`: what the graph was built from and how. */
interface SavedDescription {
  format: 'facestream-ann-1';
  library: string;
  dim: number;
  scored: boolean;
  size: number;
  params: Omit<AnnParams, 'expansionSearch' | 'candidates' | 'threads'>;
  reduction: SavedReduction;
  /** Absent in files written before layouts (insertion order). */
  layout?: GraphLayout;
  /** sha256 of the float32 rows (and biases): a file built from other rows is refused. */
  rowsSha256: string;
  /** sha256 of the graph file: USearch crashes the process on a damaged file, so it is checked before loading. */
  fileSha256: string;
}

/** Queries searched per native call in search() (then the event loop gets a turn: ~30 ms at 1M rows). */
const SEARCH_SLICE = 64;

async function fileDigest(file: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(file)) h.update(chunk as Buffer);
  return h.digest('hex');
}

function rowsDigest(rows: Float32Array, bias: Float32Array | undefined): string {
  const h = createHash('sha256');
  h.update(Buffer.from(rows.buffer, rows.byteOffset, rows.byteLength));
  if (bias) h.update(Buffer.from(bias.buffer, bias.byteOffset, bias.byteLength));
  return h.digest('hex');
}

function checkBias(bias: Float32Array, n: number, what: string): void {
  if (!(bias instanceof Float32Array) || bias.length !== n) {
    throw new RangeError(`${what}: bias must be a Float32Array of ${n} values (one per row), got ${bias instanceof Float32Array ? bias.length : typeof bias}`);
  }
}

const yieldToLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export class AnnIndex implements GalleryIndex {
  readonly kind = 'hnsw' as const;
  private closed = false;
  /** Width of a stored row: the reduction's components + 1 augmentation. */
  private readonly width: number;
  /** The graph's memory order (usearch-layout.ts). */
  layout: GraphLayout = 'insertion';
  /** Served from a memory-mapped private file (arrange()) rather than the heap. */
  mapped = false;

  private constructor(
    private graph: UsearchGraph | undefined,
    /** The float32 rows (and biases) candidates are re-scored against: the caller's arrays, not copies. */
    private readonly rows: Float32Array,
    private readonly bias: Float32Array | undefined,
    readonly dim: number,
    readonly size: number,
    readonly params: Readonly<AnnParams>,
    private readonly reduction: Reduction,
    private readonly digest: string,
  ) {
    this.width = reduction.components + 1;
  }

  /** Dimensions the graph searches in (principal axes kept + 1), and the share of the scores' variance dropped. */
  get reduced(): { width: number; discarded: number } {
    return { width: this.width, discarded: this.reduction.discarded };
  }

  /** An index over plain rows (n x dim, row-major; score = inner product); row r is id r. Keeps a reference to `rows`. */
  static async build(rows: Float32Array, dim: number, params: AnnParams = DEFAULT_ANN, options: AnnBuildOptions = {}): Promise<AnnIndex> {
    return AnnIndex.construct(rows, undefined, dim, params, options);
  }

  /** An index whose score for query x is weights[r]·x + bias[r]; row r is id r. Keeps references to both arrays. */
  static async buildScored(weights: Float32Array, bias: Float32Array, dim: number, params: AnnParams = DEFAULT_ANN, options: AnnBuildOptions = {}): Promise<AnnIndex> {
    checkBias(bias, rowCount(weights, dim, 'AnnIndex.buildScored'), 'AnnIndex.buildScored');
    return AnnIndex.construct(weights, bias, dim, params, options);
  }

  private static async construct(rows: Float32Array, bias: Float32Array | undefined, dim: number, params: AnnParams, options: AnnBuildOptions): Promise<AnnIndex> {
    checkParams(params);
    const n = rowCount(rows, dim, 'AnnIndex.build');
    await yieldToLoop(); // the work starts on a later turn: a caller may still cancel it
    options.signal?.throwIfAborted();
    let reduction: Reduction;
    try {
      reduction = fitAxes(rows, bias, dim, n, params.discardVariance, { roundI8: params.quantization === 'i8' });
    } catch (err) {
      throw new RangeError(`AnnIndex.build: ${(err as Error).message}`);
    }
    const slice = Math.max(1, options.sliceRows ?? 500);
    const scratch = new Float64Array(reduction.inputDim);
    const p = new Float64Array(reduction.components);
    let r2 = 0;
    for (let start = 0; start < n; start += slice) {
      for (let r = start, end = Math.min(n, start + slice); r < end; r++) r2 = Math.max(r2, projectRow(reduction, rows, bias, dim, r, scratch, p));
      if (start + slice < n) await yieldToLoop();
      options.signal?.throwIfAborted();
    }
    reduction.radius = Math.sqrt(r2) || 1;
    const index = new AnnIndex(undefined, rows, bias, dim, n, { ...params }, reduction, rowsDigest(rows, bias));
    const graph = index.newGraph(params.expansionSearch);
    index.graph = graph;
    const w = index.width;
    for (let start = 0; start < n; start += slice) {
      const m = Math.min(slice, n - start);
      const block = new Float32Array(m * w);
      const keys = new BigUint64Array(m);
      for (let t = 0; t < m; t++) {
        keys[t] = BigInt(start + t);
        storedRow(reduction, rows, bias, dim, start + t, scratch, p, block.subarray(t * w, (t + 1) * w));
      }
      graph.add(keys, block, params.threads);
      options.onProgress?.(start + m, n);
      if (start + m < n) await yieldToLoop();
      options.signal?.throwIfAborted();
    }
    if (n === 0) options.onProgress?.(0, 0);
    if (n > 0 && (options.layout ?? 'breadth-first') === 'breadth-first') await index.arrange(options);
    return index;
  }

  /**
   * Puts the graph in its search-time form: its nodes renumbered breadth-first (usearch-layout.ts), in a private
   * file in `tempDir` that the graph is then served from, memory-mapped (USearch's view()), rather than copied into
   * the heap. The file's name is removed at once; the mapping keeps its pages until the index is closed and
   * collected (Linux frees an unlinked file's blocks when its last mapping goes).
   * Why mapped: the page cache can hold a large file in 2 MiB pages (large folios, where the kernel and file system
   * have them, for files written in large pieces: on Linux 6.18 / ext4, all of a 1M graph), each mapped with one TLB
   * entry, where the heap gets 4 KiB pages unless transparent huge pages are on for every process; a search touches
   * thousands of scattered rows, so TLB misses are a large part of its cost (1M scorers: 7-12% faster mapped).
   * Without large folios the mapping costs what the heap costs.
   * The graph is used only if it answers LAYOUT_CHECK_QUERIES of its own rows with the same keys as the graph before.
   * Any failure (no room for the file, an unexpected format, a graph file over 2 GiB — ~4M rows — which readFile
   * refuses) keeps the graph as it was and is reported. The rewrite yields to the event loop every 64k nodes;
   * USearch's save and view block it (~1 s at 1M rows). build() does this; it is public for graphs loaded from files.
   * Returns the layout now in use.
   */
  async arrange(options: Pick<AnnBuildOptions, 'tempDir' | 'signal' | 'onLayoutFailed'> = {}): Promise<GraphLayout> {
    const built = this.open();
    if (this.mapped) return this.layout;
    let dir: string | undefined;
    try {
      dir = await mkdtemp(path.join(options.tempDir ?? tmpdir(), 'facestream-ann-'));
      const file = path.join(dir, 'graph.usearch');
      built.save(file);
      const pause = async (): Promise<void> => {
        await yieldToLoop();
        options.signal?.throwIfAborted();
      };
      const saved = await readFile(file);
      const pieces = this.layout === 'breadth-first' ? [saved] : await breadthFirstPieces(saved, pause);
      // Written over in large pieces even when already in order: the page cache gives large writes large folios
      // (USearch's save writes small ones, and a file so written was mapped in 4 KiB pages only: no gain).
      const out = await openFile(file, 'w');
      try {
        for await (const piece of pieces) await out.write(piece);
      } finally {
        await out.close();
      }
      const next = this.newGraph(this.params.expansionSearch);
      next.view(file);
      if (next.size() !== this.size) throw new Error(`the arranged graph holds ${next.size()} rows, expected ${this.size}`);
      const probe = this.layoutProbe();
      const [a, b] = [built, next].map((g) => g.search(probe, this.params.candidates, this.searchThreads()) as BatchMatches);
      for (let i = 0; i < a.keys.length; i++) {
        if (a.keys[i] !== b.keys[i]) throw new Error('the arranged graph answers differently from the graph before');
      }
      this.graph = next;
      this.layout = 'breadth-first';
      this.mapped = true;
    } catch (err) {
      options.signal?.throwIfAborted();
      options.onLayoutFailed?.((err as Error).message);
    } finally {
      if (dir) await rm(dir, { recursive: true, force: true }); // a mapped graph keeps its pages
    }
    return this.layout;
  }

  /** The graph rows of up to LAYOUT_CHECK_QUERIES rows spread over the gallery, as queries. */
  private layoutProbe(): Float32Array {
    const m = Math.max(2, Math.min(LAYOUT_CHECK_QUERIES, this.size)); // 2+: a batch answers BatchMatches
    const out = new Float32Array(m * this.width);
    const scratch = new Float64Array(this.reduction.inputDim);
    const p = new Float64Array(this.reduction.components);
    for (let i = 0; i < m; i++) {
      const r = Math.min(this.size - 1, Math.floor((i * this.size) / m));
      storedRow(this.reduction, this.rows, this.bias, this.dim, r, scratch, p, out.subarray(i * this.width, (i + 1) * this.width));
    }
    return out;
  }

  /**
   * Reads an index written by save(), over the same rows (and biases) it was built from: the description
   * (`<file>.json`) must match their dimension, kind, count and digest. Parameters are the file's except
   * expansionSearch, candidates and threads, which may be given.
   */
  static async load(
    file: string,
    rows: Float32Array,
    dim: number,
    options: { bias?: Float32Array; expansionSearch?: number; candidates?: number; threads?: number } = {},
  ): Promise<AnnIndex> {
    const n = rowCount(rows, dim, 'AnnIndex.load');
    const bias = options.bias;
    if (bias) checkBias(bias, n, 'AnnIndex.load');
    let saved: SavedDescription;
    try {
      saved = JSON.parse(await readFile(`${file}.json`, 'utf8')) as SavedDescription;
    } catch (err) {
      throw new Error(`ANN index ${file}: cannot read its description ${file}.json (${(err as Error).message}); expected files written by AnnIndex.save()`);
    }
    if (saved.format !== 'facestream-ann-1') throw new Error(`ANN index ${file}: unknown description format ${JSON.stringify(saved.format)}`);
    const scored = bias !== undefined;
    const kind = (sc: boolean): string => (sc ? 'scorers' : 'points');
    if (saved.dim !== dim || saved.scored !== scored) throw new Error(`ANN index ${file} holds ${saved.dim}-d ${kind(saved.scored)}, expected ${dim}-d ${kind(scored)}`);
    if (saved.size !== n) throw new Error(`ANN index ${file} holds ${saved.size} rows, expected ${n} (stale file: rebuild it)`);
    const digest = rowsDigest(rows, bias);
    if (saved.rowsSha256 !== digest) throw new Error(`ANN index ${file} was built from other rows than these (digest differs: stale file, rebuild it)`);
    const params: AnnParams = {
      ...saved.params,
      expansionSearch: options.expansionSearch ?? DEFAULT_ANN.expansionSearch,
      candidates: options.candidates ?? DEFAULT_ANN.candidates,
      threads: options.threads ?? DEFAULT_ANN.threads,
    };
    checkParams(params);
    let reduction: Reduction;
    try {
      reduction = loadReduction(saved.reduction, dim + (scored ? 1 : 0));
    } catch (err) {
      throw new Error(`ANN index ${file}: ${(err as Error).message}`);
    }
    const index = new AnnIndex(undefined, rows, bias, dim, n, params, reduction, digest);
    let sha: string;
    try {
      sha = await fileDigest(file);
    } catch (err) {
      throw new Error(`ANN index ${file}: cannot read it (${(err as Error).message})`);
    }
    if (sha !== saved.fileSha256) throw new Error(`ANN index ${file}: the file differs from the one its description was written for (damaged or replaced: rebuild it)`);
    const graph = index.newGraph(params.expansionSearch);
    try {
      graph.load(file);
    } catch (err) {
      throw new Error(`ANN index ${file}: cannot read it (${(err as Error).message})`);
    }
    if (graph.size() !== n) throw new Error(`ANN index ${file} holds ${graph.size()} rows in its graph, its description says ${n}`);
    index.graph = graph;
    index.layout = saved.layout ?? 'insertion';
    return index;
  }

  /** Writes the graph (USearch's format) to `file` and its description to `<file>.json`, each through a rename. */
  async save(file: string): Promise<void> {
    const graph = this.open();
    graph.save(`${file}.tmp`);
    const { connectivity, expansionAdd, quantization, discardVariance } = this.params;
    const d: SavedDescription = {
      format: 'facestream-ann-1',
      library: `usearch ${usearchVersion()}`,
      dim: this.dim,
      scored: this.bias !== undefined,
      size: this.size,
      params: { connectivity, expansionAdd, quantization, discardVariance },
      reduction: saveReduction(this.reduction),
      layout: this.layout,
      rowsSha256: this.digest,
      fileSha256: await fileDigest(`${file}.tmp`),
    };
    await writeFile(`${file}.json.tmp`, `${JSON.stringify(d)}\n`);
    await rename(`${file}.tmp`, file);
    await rename(`${file}.json.tmp`, `${file}.json`);
  }

  /**
   * The k best rows of each query by exact score, taken from the graph's `candidates` (or k, if larger) per query.
   * Batches are searched on params.threads native threads (at most one per core), SEARCH_SLICE queries per call.
   */
  async search(queries: readonly Float32Array[], k: number): Promise<SearchHits[]> {
    this.open();
    checkQueries(queries, this.dim, k);
    const kk = Math.min(k, this.size);
    const out: SearchHits[] = [];
    if (kk === 0) return queries.map(() => ({ ids: new Int32Array(0), scores: new Float32Array(0) }));
    const ask = Math.min(this.size, Math.max(kk, this.params.candidates));
    for (let s = 0; s < queries.length; s += SEARCH_SLICE) {
      if (s > 0) await yieldToLoop();
      const graph = this.open(); // closed while we yielded: fail rather than touch a released index
      const slice = queries.slice(s, s + SEARCH_SLICE);
      const packed = new Float32Array(slice.length * this.width);
      slice.forEach((q, i) => storedQuery(this.reduction, q, this.dim, packed.subarray(i * this.width, (i + 1) * this.width)));
      const res = graph.search(packed, ask, this.searchThreads()) as BatchMatches | Matches;
      // One query gives Matches (its hits only), several give BatchMatches (ask slots each, `counts` filled).
      // Row ids are below 2^32: read the low halves of the 64-bit keys (little-endian) rather than a BigInt each.
      const low = new Uint32Array(res.keys.buffer, res.keys.byteOffset, res.keys.length * 2);
      const found = (i: number): Uint32Array =>
        'counts' in res ? low.subarray(2 * i * ask, 2 * (i * ask + Number(res.counts[i]))) : low;
      slice.forEach((q, i) => out.push(this.rescore(q, found(i), kk)));
    }
    return out;
  }

  async close(): Promise<void> {
    // USearch frees the native index with its JS object; dropping ours lets that happen.
    this.closed = true;
    this.graph = undefined;
  }

  private newGraph(expansionSearch: number): UsearchGraph {
    const p = this.params;
    return new UsearchGraph({
      dimensions: this.width,
      metric: MetricKind.IP,
      quantization: p.quantization as ScalarKind,
      connectivity: p.connectivity,
      expansion_add: p.expansionAdd,
      expansion_search: expansionSearch,
      multi: false,
    });
  }

  /**
   * Exact scores of the candidates (`keys`: their 64-bit ids as pairs of 32-bit words, low first); the k best, best
   * first. Offered to TopK in ascending row order and summed by scoreRowsAt, so scores and ties come out as the exact
   * index gives them.
   */
  private rescore(q: Float32Array, keys: Uint32Array, k: number): SearchHits {
    const m = keys.length >> 1;
    const ids = new Uint32Array(m);
    for (let t = 0; t < m; t++) ids[t] = keys[2 * t];
    ids.sort();
    const scores = scoreRowsAt(this.rows, this.dim, q, ids, new Float32Array(m), this.bias);
    const top = new TopK(Math.min(k, m));
    for (let t = 0; t < m; t++) top.offer(ids[t], scores[t]);
    return top.hits();
  }

  /**
   * Threads for a batched search: params.threads, at most one per core (0: USearch's one per core). A graph loaded
   * from a file (load(), arrange()) has search slots for one thread per core only, and USearch aborts the process
   * when a search asks for more.
   */
  private searchThreads(): number {
    return this.params.threads === 0 ? 0 : Math.min(this.params.threads, CORES);
  }

  private open(): UsearchGraph {
    if (this.closed || !this.graph) throw new Error('AnnIndex: used after close()');
    return this.graph;
  }
}

let cachedVersion: string | undefined;
/** The installed usearch package's version (recorded in saved descriptions). */
function usearchVersion(): string {
  if (!cachedVersion) {
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      cachedVersion = (require('usearch/package.json') as { version: string }).version;
    } catch {
      cachedVersion = 'unknown';
    }
  }
  return cachedVersion;
}
