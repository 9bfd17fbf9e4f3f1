/**
 * The matcher's candidate path, for galleries too large to score every identity per probe:
 *
 *   1. candidates from an index, either
 *      - 'svm': the top-k identities by SVM score, from an index over the SVM weights and biases: exact
 *        (ExactIndex with bias: onnxruntime GEMM over every identity) or approximate (AnnIndex.buildScored:
 *        maximum-inner-product search); or
 *      - 'embeddings': the identities owning the top-k nearest enrolled positives (an index over the gallery's
 *        embeddings, e.g. AnnIndex.build over embeddingRows());
 *   2. SVM scores for those candidates only, and the unchanged open-set rule: both done by matcher.ts itself,
 *      run over the gallery and model restricted to the candidates (buildMatcher on a sub-gallery).
 *
 * Equivalence with buildMatcher(gallery, model): the restricted matcher scores a candidate with the same arithmetic
 * (scoreAll) and keeps identities in gallery order (same tie-breaking), so whenever a probe's all-identities top
 * identity is among its candidates the result is identical (runnerUp too when the runner-up is a candidate).
 *   - 'svm' exact, k >= 2: always (up to float32 rounding in the GEMM deciding between two scores ~1e-6 apart).
 *   - 'svm' HNSW: when the index finds the top scorer (bench:distributed measures this as recall@1).
 *   - 'embeddings': only when the top SVM identity owns one of the k nearest positives. The SVM ranks identities
 *     differently from the nearest-embedding order, and in crowded galleries the all-identities top is often an
 *     identity the rule then rejects as too far (the matcher never tries the runner-up), while the nearest
 *     candidates contain an acceptable one: the candidate path then accepts where the matcher would not. Measured
 *     (bench:distributed, synthetic 10k, k 16): decisions as the matcher's for ~80% of probes; use 'svm' where
 *     the matcher's decisions must be kept, 'embeddings' only as a different (nearest-first) rule.
 *
 * Tracks: matchTrack() takes the union of its embeddings' candidates, so the majority / best / mean aggregation
 * of matcher.ts runs unchanged too.
 */
import type { Gallery, Thresholds } from '../gallery';
import { buildMatcher, type Matcher, type MatchResult, type TrackAggregate, unitCopy } from '../matcher';
import { galleryShape, type SvmModel } from '../svm';
import type { GalleryIndex } from './types';

/** The gallery's enrolled positives as one row-major matrix, with the identity index owning each row. */
export interface EmbeddingRows {
  rows: Float32Array;
  owner: Int32Array;
  dim: number;
}

/** Packs every identity's positives (unit vectors already, see gallery.ts) in gallery order. */
export function embeddingRows(gallery: Gallery): EmbeddingRows {
  const dim = gallery.dim;
  let n = 0;
  for (const id of gallery.identities) n += id.embeddings.length;
  const rows = new Float32Array(n * dim);
  const owner = new Int32Array(n);
  let r = 0;
  gallery.identities.forEach((id, k) => {
    for (const e of id.embeddings) {
      if (e.length !== dim) throw new RangeError(`identity ${id.id}: an embedding has ${e.length} values, ${dim} expected`);
      rows.set(e, r * dim);
      owner[r++] = k;
    }
  });
  return { rows, owner, dim };
}

/** Where candidates come from. `k`: hits asked of the index per probe (svm default 2, embeddings default 16). */
export type CandidateSource =
  /** Rows = identities in gallery order: model.weights with model.bias (scores = SVM scores). */
  | { kind: 'svm'; index: GalleryIndex; k?: number }
  /** Rows = enrolled positives; owner[row] = identity index (embeddingRows()). */
  | { kind: 'embeddings'; index: GalleryIndex; owner: Int32Array; k?: number };

export interface CandidateMatcherOptions {
  /** Overrides gallery.thresholds (as in buildMatcher). */
  thresholds?: Thresholds;
}

function sortedUnique(ids: Iterable<number>): Int32Array {
  const a = Int32Array.from(new Set(ids));
  return a.sort();
}

export class CandidateMatcher {
  readonly galleryVersion: number;
  readonly thresholds: Thresholds;
  readonly identityCount: number;
  private readonly k: number;

  private constructor(
    private readonly gallery: Gallery,
    private readonly model: SvmModel,
    private readonly source: CandidateSource,
    thresholds: Thresholds,
  ) {
    this.galleryVersion = gallery.version;
    this.thresholds = thresholds;
    this.identityCount = gallery.identities.length;
    this.k = source.k ?? (source.kind === 'svm' ? 2 : 16);
  }

  /**
   * Checks that the model fits the gallery (buildMatcher's checks and messages) and that the index fits both:
   * an SVM index holds one row per identity, an embeddings index one row per owner entry.
   */
  static create(gallery: Gallery, model: SvmModel, source: CandidateSource, options: CandidateMatcherOptions = {}): CandidateMatcher {
    const full = buildMatcher(gallery, model, options);
    const n = gallery.identities.length;
    const { index } = source;
    if (index.dim !== gallery.dim) throw new RangeError(`candidate index holds ${index.dim}-d rows, the gallery ${gallery.dim}-d embeddings`);
    const k = source.k;
    if (k !== undefined && (!Number.isInteger(k) || k < 1)) throw new RangeError(`candidate k must be a positive integer, got ${k}`);
    if (source.kind === 'svm') {
      if (index.size !== n) throw new RangeError(`SVM candidate index holds ${index.size} rows, the gallery ${n} identities (one row per identity expected)`);
    } else {
      if (index.size !== source.owner.length) {
        throw new RangeError(`embeddings candidate index holds ${index.size} rows, owner lists ${source.owner.length}`);
      }
      for (let r = 0; r < source.owner.length; r++) {
        const o = source.owner[r];
        if (!(o >= 0 && o < n)) throw new RangeError(`owner[${r}] = ${o} is not an identity index (0..${n - 1})`);
      }
    }
    return new CandidateMatcher(gallery, model, source, full.thresholds);
  }

  /**
   * Candidate identity indices of each embedding (ascending, no repeats), from one batched index search. An
   * embedding the matcher would call invalid (wrong length, zero, non-finite) gets none.
   */
  async candidates(embeddings: readonly Float32Array[]): Promise<Int32Array[]> {
    const dim = this.gallery.dim;
    const units: Float32Array[] = [];
    const at: number[] = [];
    embeddings.forEach((e, i) => {
      const u = unitCopy(e, dim);
      if (u) {
        at.push(i);
        units.push(u);
      }
    });
    const out: Int32Array[] = embeddings.map(() => new Int32Array(0));
    if (units.length === 0 || this.identityCount === 0) return out;
    const hits = await this.source.index.search(units, this.k);
    const owner = this.source.kind === 'embeddings' ? this.source.owner : undefined;
    hits.forEach((h, q) => {
      out[at[q]] = sortedUnique(owner ? Array.from(h.ids, (r) => owner[r]) : h.ids);
    });
    return out;
  }

  /**
   * matcher.ts's Matcher over the identities given (gallery indices) only: match / matchTrack there apply the
   * open-set rule to these candidates. Cheap for tens of candidates (copies their weight rows).
   */
  restricted(identities: Iterable<number>): Matcher {
    const ids = sortedUnique(identities);
    const dim = this.gallery.dim;
    const sub: Gallery = { ...this.gallery, identities: Array.from(ids, (k) => this.gallery.identities[k]) };
    const weights = new Float32Array(ids.length * dim);
    const bias = new Float32Array(ids.length);
    ids.forEach((k, t) => {
      weights.set(this.model.weights.subarray(k * dim, (k + 1) * dim), t * dim);
      bias[t] = this.model.bias[k];
    });
    const model: SvmModel = { ...this.model, shape: galleryShape(sub), weights, bias };
    return buildMatcher(sub, model, { thresholds: this.thresholds });
  }

  /** Matcher.match for each embedding (one batched index search for all). */
  async match(embeddings: readonly Float32Array[]): Promise<MatchResult[]> {
    const cands = await this.candidates(embeddings);
    return embeddings.map((e, i) => this.restricted(cands[i]).match(e));
  }

  /** Matcher.matchTrack over the union of the embeddings' candidates (and the mean's, for 'mean'). */
  async matchTrack(embeddings: readonly Float32Array[], aggregate: TrackAggregate = 'majority'): Promise<MatchResult> {
    return (await this.trackMatcher(embeddings, aggregate)).matchTrack(embeddings, aggregate);
  }

  /** The matcher restricted to the union of a track's candidates: its matchTrack(embeddings, aggregate) decides. */
  async trackMatcher(embeddings: readonly Float32Array[], aggregate: TrackAggregate = 'majority'): Promise<Matcher> {
    const probes = [...embeddings];
    if (aggregate === 'mean') {
      const mean = meanOfUnits(embeddings, this.gallery.dim);
      if (mean) probes.push(mean);
    }
    const cands = await this.candidates(probes);
    const union = new Set<number>();
    for (const c of cands) for (const k of c) union.add(k);
    return this.restricted(union);
  }

  /** The candidate index's kind ('exact' or 'hnsw'). */
  get indexKind(): GalleryIndex['kind'] {
    return this.source.index.kind;
  }

  /** Releases the index (search fails afterwards). */
  close(): Promise<void> {
    return this.source.index.close();
  }
}

/** The probe matchTrack 'mean' matches: the mean of the valid embeddings' unit copies (its candidates are needed). */
function meanOfUnits(embeddings: readonly Float32Array[], dim: number): Float32Array | undefined {
  const mean = new Float32Array(dim);
  let any = false;
  for (const e of embeddings) {
    const u = unitCopy(e, dim);
    if (!u) continue;
    any = true;
    for (let j = 0; j < dim; j++) mean[j] += u[j];
  }
  return any ? mean : undefined;
}
