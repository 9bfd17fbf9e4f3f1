/**
 * bench:distributed (b): matching against synthetic galleries (synthetic.ts) of 1k-1M identities.
 *
 *   exact   CandidateMatcher over an ExactIndex of the SVM weights and biases (onnxruntime Gemm + TopK, k 2):
 *           every identity scored, then matcher.ts's open-set rule on the top two. Batched and one at a time.
 *   plain   the baseline: onnxruntime Gemm queries x weightsᵀ over the same chunks, the full score block returned.
 *   js      the current matcher (buildMatcher: svm.ts scoreAll over every identity, per probe), for reference.
 *   ann svm CandidateMatcher over an approximate index of the SVM scorers (AnnIndex.buildScored: USearch HNSW
 *           over 8-bit rows → its candidates re-scored exactly → top k → SVM scores → open-set rule), batched
 *           (--ann-batch probes per search; ms per embedding = batch time / batch size) and one probe at a time,
 *           per expansionSearch. recall@1: its top identity = the exact path's top identity.
 *   ann emb CandidateMatcher over an approximate index of the enrolled embeddings (k nearest → their identities →
 *           SVM scores for those → open-set rule). recall@1: the index's nearest enrolled embedding = the exact
 *           nearest (ExactIndex over the embeddings). Built up to --emb-ann-max identities.
 *
 * "decisions = exact": the ANN path's decision (accepted, identity) = the exact path's, over all probes.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import type { Gallery } from '../../src/match/gallery';
import { buildMatcher, type MatchResult } from '../../src/match/matcher';
import { CandidateMatcher } from '../../src/match/search/candidates';
import { EXACT_IO, plainProductModel } from '../../src/match/search/exact-graph';
import { ExactIndex } from '../../src/match/search/exact-index';
import { AnnIndex, type AnnParams, type GraphLayout } from '../../src/match/search/ann-index';
import { REDUCTION_LAYOUT } from '../../src/match/search/ann-reduction';
import { galleryShape, resolveSvmOptions, type SvmModel } from '../../src/match/svm';
import { alternate, median, quantile } from './measure';
import { DIM, makeGallery, makeProbes, type SyntheticGallery } from './synthetic';

/** Bumped whenever synthetic.ts changes what it generates (cached indexes are keyed by it). */
const DATA_VERSION = 'lfwsynth-v2';

export interface MatchBenchOptions {
  sizes: number[];
  seed: number;
  batch: number;
  queries: number;
  singleQueries: number;
  seconds: number;
  minRounds: number;
  chunkRows: number;
  jsMaxRows: number;
  /** intraOpNumThreads of the exact index and the plain product (undefined: onnxruntime's default). */
  threads?: number;
  /** Seconds spent on the all-identities JS matcher per size (at least 3 probes). */
  jsSeconds: number;
  /** Build parameters of the approximate indexes (expansionSearch comes from efList). */
  ann: AnnParams;
  /** The graphs' memory order. */
  annLayout: GraphLayout;
  efList: number[];
  /** Probes per batched approximate search. */
  annBatch: number;
  annK: number;
  /** Candidates asked of the SVM-scorer HNSW index. */
  annSvmK: number;
  /** Which HNSW indexes to measure. */
  annSources: ('svm' | 'emb')[];
  /** Largest gallery that also gets the embeddings HNSW index. */
  embAnnMax: number;
  cacheDir: string;
  log: (line: string) => void;
}

export interface AnnRow {
  /** 'svm': HNSW over the SVM scorers; 'emb': HNSW over the enrolled embeddings. */
  source: 'svm' | 'emb';
  k: number;
  efSearch: number;
  /** Batched: ms per embedding (batch time / batch size), median and p99 over batches. */
  p50Ms: number;
  p99Ms: number;
  /** Index search alone (no SVM scoring, no rule), batched, median ms per embedding. */
  indexP50Ms: number;
  /** One probe at a time through the whole candidate path. */
  singleP50Ms: number;
  perSec: number;
  recallAt1: number;
  /** recall@1 over the faces of enrolled identities and over the strangers. */
  recallGenuine: number;
  recallStrangers: number;
  agree: number;
  /** Probes where the decisions differ: accepted by ANN only, by exact only, or as different identities. */
  annOnly: number;
  exactOnly: number;
  different: number;
}

export interface MatchRow {
  identities: number;
  batch: number;
  exact: { msPerEmbedding: number; p99MsPerEmbedding: number; p99BatchMs: number; perSec: number; usesOnnxRuntime: boolean };
  plain: { msPerEmbedding: number; p99MsPerEmbedding: number; perSec: number };
  exactSingle: { p50Ms: number; p99Ms: number };
  plainSingle: { p50Ms: number; p99Ms: number };
  js: { p50Ms: number; probes: number; sameAsExact: number };
  ann: AnnRow[];
  annIndexes: { source: 'svm' | 'emb'; connectivity: number; expansionAdd: number; quantization: string; layout: GraphLayout; mapped: boolean; buildSeconds: number; cached: boolean; loadSeconds: number }[];
  accepted: number;
  probes: number;
}

/** The synthetic gallery as matcher.ts types (views on the generated arrays, no copies). */
function asGallery(g: SyntheticGallery): { gallery: Gallery; model: SvmModel } {
  const identities = new Array(g.n);
  for (let i = 0; i < g.n; i++) {
    identities[i] = { id: `id-${i}`, name: `Identity ${i}`, embeddings: [g.embeddings.subarray(i * DIM, (i + 1) * DIM)], negatives: [], createdAt: '2025-01-01T00:00:00.000Z' };
  }
  // Thresholds: svm 0 (a face of i scores ~+1, others ~-1) and euclidean 0.38 (cosine 0.928): genuine faces are at
  // ~0.30 from their enrolled face, other people at ~0.56.
  const gallery: Gallery = { version: 1, embedder: 'synthetic-lfw-128', dim: DIM, metric: 'euclidean', identities, watchlists: [], thresholds: { svm: 0, distance: 0.38 } };
  const model: SvmModel = {
    shape: galleryShape(gallery),
    options: resolveSvmOptions(),
    weights: g.weights,
    bias: g.bias,
    backgroundCount: 0,
    stats: { trainMs: 0, maxIterations: 0, maxRounds: 0, hitIterationLimit: 0, threadId: 0 },
  };
  return { gallery, model };
}

/**
 * Share of the memory-mapped graph files (arrange(): unlinked files under facestream-ann-*) that the kernel maps in
 * 2 MiB pages (smaps FilePmdMapped / Rss), or undefined where /proc/self/smaps cannot tell. The mapping's gain
 * depends on it (ann-index.ts).
 */
function hugePageShare(): number | undefined {
  let smaps: string;
  try {
    smaps = readFileSync('/proc/self/smaps', 'utf8');
  } catch {
    return undefined;
  }
  let rss = 0;
  let pmd = 0;
  for (const entry of smaps.split(/\n(?=[0-9a-f]+-[0-9a-f]+ )/)) {
    if (!/\/facestream-ann-[^/\n]+\/graph\.usearch \(deleted\)/.test(entry.slice(0, entry.indexOf('\n')))) continue;
    rss += Number(/^Rss:\s+(\d+) kB/m.exec(entry)?.[1] ?? 0);
    pmd += Number(/^FilePmdMapped:\s+(\d+) kB/m.exec(entry)?.[1] ?? 0);
  }
  return rss > 0 ? pmd / rss : undefined;
}

function label(n: number): string {
  return n >= 1e6 && n % 1e6 === 0 ? `${n / 1e6}M` : n >= 1e3 && n % 1e3 === 0 ? `${n / 1e3}k` : String(n);
}

interface Built {
  file: string;
  buildSeconds: number;
  cached: boolean;
}

/** The approximate index's file for this gallery and source: built (with progress) and saved once, then reused. */
async function annFileFor(g: SyntheticGallery, source: 'svm' | 'emb', o: MatchBenchOptions): Promise<Built> {
  const p = o.ann;
  const stem = path.join(o.cacheDir, `ann-${source}-${DATA_VERSION}-n${g.n}-seed${g.seed}-M${p.connectivity}-efc${p.expansionAdd}-${p.quantization}-dv${p.discardVariance}-${REDUCTION_LAYOUT}`);
  const fileFor = (layout: GraphLayout): string => `${stem}${layout === 'breadth-first' ? '-bfs' : ''}.usearch`;
  const cachedAt = (layout: GraphLayout): Built | undefined => {
    const file = fileFor(layout);
    const meta = `${file}.bench.json`;
    if (!(existsSync(file) && existsSync(`${file}.json`) && existsSync(meta))) return undefined;
    const { buildSeconds } = JSON.parse(readFileSync(meta, 'utf8')) as { buildSeconds: number };
    return { file, buildSeconds, cached: true };
  };
  const file = fileFor(o.annLayout);
  const meta = `${file}.bench.json`;
  const cached = cachedAt(o.annLayout);
  if (cached) return cached;
  const rows = source === 'svm' ? g.weights : g.embeddings;
  const bias = source === 'svm' ? g.bias : undefined;
  const insertion = o.annLayout === 'breadth-first' ? cachedAt('insertion') : undefined;
  if (insertion) {
    // The same graph as a build would make (a build renumbers the graph it built): renumber the cached one.
    const t0 = performance.now();
    const index = await AnnIndex.load(insertion.file, rows, DIM, { bias, threads: p.threads });
    const layout = await index.arrange({ onLayoutFailed: (why) => process.stderr.write(`  ann ${source} ${label(g.n)}: breadth-first layout failed: ${why}\n`) });
    if (layout !== 'breadth-first') throw new Error(`the cached graph ${insertion.file} could not be laid out breadth-first`);
    const buildSeconds = insertion.buildSeconds + (performance.now() - t0) / 1000;
    await index.save(file);
    await index.close();
    writeFileSync(meta, JSON.stringify({ buildSeconds, n: g.n, seed: g.seed, params: p, layout, from: path.basename(insertion.file), data: DATA_VERSION, builtAt: new Date().toISOString() }));
    return { file, buildSeconds, cached: false };
  }
  const t0 = performance.now();
  let shown = 0;
  const build = {
    onProgress: (done: number, total: number) => {
      if (done < total && done - shown < total / 20) return;
      shown = done;
      const s = (performance.now() - t0) / 1000;
      const eta = done < total ? `, ~${Math.round((s / done) * (total - done))} s left` : '';
      process.stderr.write(`  ann ${source} build ${label(g.n)}: ${done}/${total} rows, ${s.toFixed(0)} s (${(done / s).toFixed(0)}/s${eta})\n`);
    },
  };
  const how = { ...build, layout: o.annLayout };
  const index = source === 'svm' ? await AnnIndex.buildScored(g.weights, g.bias, DIM, p, how) : await AnnIndex.build(g.embeddings, DIM, p, how);
  if (index.layout !== o.annLayout) throw new Error(`the ${source} graph could not be laid out ${o.annLayout}`);
  const buildSeconds = (performance.now() - t0) / 1000;
  mkdirSync(o.cacheDir, { recursive: true });
  await index.save(file);
  await index.close();
  writeFileSync(meta, JSON.stringify({ buildSeconds, n: g.n, seed: g.seed, params: p, layout: index.layout, data: DATA_VERSION, builtAt: new Date().toISOString() }));
  return { file, buildSeconds, cached: false };
}

function sameDecision(a: MatchResult, b: MatchResult): boolean {
  return a.accepted === b.accepted && a.identity === b.identity;
}

export async function runMatchSize(n: number, o: MatchBenchOptions): Promise<MatchRow> {
  const log = o.log;
  let t0 = performance.now();
  const g = makeGallery(n, o.seed, (done) => process.stderr.write(`  synthesising ${label(n)}: ${done}/${n}\n`));
  const { gallery, model } = asGallery(g);
  const { probes, identity } = makeProbes(g, o.queries, o.seed + 1);
  log(`\n${label(n)} identities: synthesised in ${((performance.now() - t0) / 1000).toFixed(1)} s; ${probes.length} probes (half faces of enrolled identities, half strangers)`);

  // Exact path and the plain-product baseline, on the same batches.
  const threads = o.threads !== undefined ? { intraOpNumThreads: o.threads } : {};
  const exactIndex = await ExactIndex.create(g.weights, DIM, { bias: g.bias, chunkRows: o.chunkRows, jsMaxRows: o.jsMaxRows, ...threads });
  const exact = CandidateMatcher.create(gallery, model, { kind: 'svm', index: exactIndex, k: 2 });
  const plain = await ort.InferenceSession.create(plainProductModel(DIM), { executionProviders: ['cpu'], graphOptimizationLevel: 'all', ...threads });
  const chunks: ort.Tensor[] = [];
  for (let s = 0; s < n; s += o.chunkRows) {
    const m = Math.min(o.chunkRows, n - s);
    chunks.push(new ort.Tensor('float32', g.weights.subarray(s * DIM, (s + m) * DIM), [m, DIM]));
  }
  const plainRun = async (qs: Float32Array[]): Promise<void> => {
    const packed = new Float32Array(qs.length * DIM);
    qs.forEach((q, i) => packed.set(q, i * DIM));
    const qt = new ort.Tensor('float32', packed, [qs.length, DIM]);
    for (const w of chunks) {
      const out = await plain.run({ [EXACT_IO.queries]: qt, [EXACT_IO.rows]: w });
      out[EXACT_IO.scores].dispose();
    }
  };
  const batches: Float32Array[][] = [];
  for (let s = 0; s < probes.length; s += o.batch) batches.push(probes.slice(s, s + o.batch));
  const full = batches.filter((b) => b.length === o.batch);
  const exactResults: MatchResult[] = [];
  for (const b of batches) exactResults.push(...(await exact.match(b)));
  let bi = 0;
  const timed = await alternate(
    () => exact.match(full[bi % full.length]),
    async () => {
      await plainRun(full[bi % full.length]);
      bi++;
    },
    { seconds: o.seconds, minRounds: o.minRounds, warmup: 1 },
  );
  const B = o.batch;
  const exactRow = {
    msPerEmbedding: median(timed.a) / B,
    p99MsPerEmbedding: quantile(timed.a, 0.99) / B,
    p99BatchMs: quantile(timed.a, 0.99),
    perSec: (B * 1000) / median(timed.a),
    usesOnnxRuntime: exactIndex.usesOnnxRuntime(o.batch),
  };
  const plainRow = { msPerEmbedding: median(timed.b) / B, p99MsPerEmbedding: quantile(timed.b, 0.99) / B, perSec: (B * 1000) / median(timed.b) };
  log(
    `  exact, batch ${B}: ${exactRow.msPerEmbedding.toFixed(3)} ms/embedding (p99 ${exactRow.p99MsPerEmbedding.toFixed(3)}), ${exactRow.perSec.toFixed(0)}/s; ` +
      `plain product: ${plainRow.msPerEmbedding.toFixed(3)} ms/embedding, ${plainRow.perSec.toFixed(0)}/s (${timed.a.length} batches each)`,
  );
  let si = 0;
  const single = await alternate(
    () => exact.match([probes[si % probes.length]]),
    async () => {
      await plainRun([probes[si % probes.length]]);
      si++;
    },
    { seconds: 0, minRounds: o.singleQueries, warmup: 1 },
  );
  const exactSingle = { p50Ms: median(single.a), p99Ms: quantile(single.a, 0.99) };
  const plainSingle = { p50Ms: median(single.b), p99Ms: quantile(single.b, 0.99) };
  log(`  exact, one probe at a time: p50 ${exactSingle.p50Ms.toFixed(2)} ms, p99 ${exactSingle.p99Ms.toFixed(2)} ms; plain product p50 ${plainSingle.p50Ms.toFixed(2)} ms`);
  await plain.release();

  // The current all-identities matcher (JS), on as many probes as jsSeconds allows.
  const jsMatcher = buildMatcher(gallery, model);
  const jsTimes: number[] = [];
  let same = 0;
  t0 = performance.now();
  for (let q = 0; q < probes.length && (jsTimes.length < 3 || performance.now() - t0 < o.jsSeconds * 1000); q++) {
    const s = performance.now();
    const r = jsMatcher.match(probes[q]);
    jsTimes.push(performance.now() - s);
    const e = exactResults[q];
    if (e.candidate === r.candidate && sameDecision(e, r)) same++;
  }
  const js = { p50Ms: median(jsTimes), probes: jsTimes.length, sameAsExact: same };
  log(`  js all-identities matcher: p50 ${js.p50Ms.toFixed(3)} ms/probe; same candidate and decision as exact for ${same}/${jsTimes.length}`);

  // ANN paths.
  const annRows: AnnRow[] = [];
  const annInfo: MatchRow['annIndexes'] = [];
  for (const source of o.efList.length > 0 ? o.annSources : []) {
    if (source === 'emb' && n > o.embAnnMax) {
      log(`  ann emb: skipped above ${label(o.embAnnMax)} identities (--emb-ann-max)`);
      continue;
    }
    // What each probe's recall@1 is checked against.
    let truth: Int32Array;
    if (source === 'svm') {
      const ids = new Map(gallery.identities.map((id, i) => [id.id, i]));
      truth = Int32Array.from(exactResults, (r) => ids.get(r.candidate ?? '') ?? -1);
    } else {
      const nearest = await ExactIndex.create(g.embeddings, DIM, { chunkRows: o.chunkRows, jsMaxRows: o.jsMaxRows });
      truth = Int32Array.from(await nearest.search(probes, 1), (h) => h.ids[0]);
      await nearest.close();
    }
    const built = await annFileFor(g, source, o);
    const p = o.ann;
    log(
      `  ann ${source} index (USearch HNSW, M ${p.connectivity}, expansionAdd ${p.expansionAdd}, ${p.quantization}, ${o.annLayout} layout, ${p.candidates} candidates re-scored): ` +
        (built.cached ? `cached (built in ${built.buildSeconds.toFixed(0)} s)` : `built in ${built.buildSeconds.toFixed(1)} s`),
    );
    const k = source === 'svm' ? o.annSvmK : o.annK;
    let loadSeconds = 0;
    let mapped = false;
    for (const ef of o.efList) {
      const t1 = performance.now();
      const index =
        source === 'svm'
          ? await AnnIndex.load(built.file, g.weights, DIM, { bias: g.bias, expansionSearch: ef, candidates: p.candidates, threads: p.threads })
          : await AnnIndex.load(built.file, g.embeddings, DIM, { expansionSearch: ef, candidates: p.candidates, threads: p.threads });
      // As a service serves it: arrange() maps a breadth-first graph from a private file (ann-index.ts).
      if (o.annLayout === 'breadth-first') await index.arrange({ onLayoutFailed: (why) => process.stderr.write(`  ann ${source} ${label(g.n)}: not mapped (${why}); searched from the heap\n`) });
      loadSeconds = (performance.now() - t1) / 1000;
      mapped = index.mapped;
      const cm =
        source === 'svm'
          ? CandidateMatcher.create(gallery, model, { kind: 'svm', index, k })
          : CandidateMatcher.create(gallery, model, { kind: 'embeddings', index, owner: Int32Array.from({ length: n }, (_, i) => i), k });
      annRows.push(await measureAnn(source, k, ef, o.annBatch, index, cm, probes, identity, truth, exactResults, log));
      const huge = mapped ? hugePageShare() : undefined; // after the searches touched the graph's pages
      if (huge !== undefined) log(`    (the graph searched memory-mapped, ${(100 * huge).toFixed(0)}% of its resident pages in 2 MiB pages)`);
      await index.close();
    }
    annInfo.push({ source, connectivity: p.connectivity, expansionAdd: p.expansionAdd, quantization: p.quantization, layout: o.annLayout, mapped, buildSeconds: built.buildSeconds, cached: built.cached, loadSeconds });
  }
  await exactIndex.close();
  return {
    identities: n,
    batch: B,
    exact: exactRow,
    plain: plainRow,
    exactSingle,
    plainSingle,
    js,
    ann: annRows,
    annIndexes: annInfo,
    accepted: exactResults.filter((r) => r.accepted).length,
    probes: probes.length,
  };
}

/**
 * The candidate path over the approximate index, in batches of `batch` probes (ms per embedding = batch time /
 * batch size) and one probe at a time; recall@1 of the index's first hit against `truth`.
 */
async function measureAnn(
  source: 'svm' | 'emb',
  k: number,
  ef: number,
  batch: number,
  index: AnnIndex,
  cm: CandidateMatcher,
  probes: Float32Array[],
  identity: Int32Array,
  truth: Int32Array,
  exactResults: MatchResult[],
  log: (line: string) => void,
): Promise<AnnRow> {
  await cm.match(probes.slice(0, batch)); // warm-up
  const perEmbedding: number[] = [];
  const indexPerEmbedding: number[] = [];
  const results: MatchResult[] = [];
  let hit = 0;
  const hits = { genuine: 0, genuineAll: 0, strangers: 0 };
  for (let s = 0; s < probes.length; s += batch) {
    const b = probes.slice(s, s + batch);
    let t = performance.now();
    results.push(...(await cm.match(b)));
    perEmbedding.push((performance.now() - t) / b.length);
    t = performance.now();
    const found = await index.search(b, k);
    indexPerEmbedding.push((performance.now() - t) / b.length);
    found.forEach((h, i) => {
      const q = s + i;
      const ok = h.ids[0] === truth[q];
      if (ok) hit++;
      if (identity[q] >= 0) hits.genuineAll++;
      if (ok) hits[identity[q] >= 0 ? 'genuine' : 'strangers']++;
    });
  }
  const single: number[] = [];
  for (let q = 0; q < Math.min(64, probes.length); q++) {
    const t = performance.now();
    await cm.match([probes[q]]);
    single.push(performance.now() - t);
  }
  let agree = 0;
  const diff = { annOnly: 0, exactOnly: 0, different: 0 };
  results.forEach((r, q) => {
    const e = exactResults[q];
    if (sameDecision(r, e)) agree++;
    else if (r.accepted && !e.accepted) diff.annOnly++;
    else if (e.accepted && !r.accepted) diff.exactOnly++;
    else diff.different++;
  });
  const row: AnnRow = {
    source,
    k,
    efSearch: ef,
    p50Ms: median(perEmbedding),
    p99Ms: quantile(perEmbedding, 0.99),
    indexP50Ms: median(indexPerEmbedding),
    singleP50Ms: median(single),
    perSec: 1000 / median(perEmbedding),
    recallAt1: hit / probes.length,
    recallGenuine: hits.genuine / hits.genuineAll,
    recallStrangers: hits.strangers / (probes.length - hits.genuineAll),
    agree: agree / probes.length,
    ...diff,
  };
  log(
    `  ann ${source} expansionSearch ${ef}, k ${k}, batches of ${batch}: p50 ${row.p50Ms.toFixed(3)} ms, p99 ${row.p99Ms.toFixed(3)} ms per embedding ` +
      `(index alone ${row.indexP50Ms.toFixed(3)}; one probe at a time p50 ${row.singleP50Ms.toFixed(3)} ms); ` +
      `recall@1 ${row.recallAt1.toFixed(4)} (genuine ${row.recallGenuine.toFixed(4)}, strangers ${row.recallStrangers.toFixed(4)}); decisions as exact ${row.agree.toFixed(4)}` +
      (agree < probes.length ? ` (accepted by ann only ${diff.annOnly}, by exact only ${diff.exactOnly}, as another identity ${diff.different})` : ''),
  );
  return row;
}

export { label as sizeLabel };
