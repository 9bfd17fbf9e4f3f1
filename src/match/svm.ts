/**
 * One-vs-rest linear SVMs over a gallery, trained by dual coordinate descent.
 *
 * Hand-written rather than a library: the solver is ~80 lines (Hsieh et al. 2008, the algorithm
 * of liblinear's L2-regularised L1-/L2-loss SVC dual solver, `-s 3` / `-s 1`, with its bias
 * term `-B`), exact and bit-for-bit deterministic (seeded shuffle, no threads inside), pure
 * TypeScript with no native dependency, and it runs unchanged in a worker thread. A binding of
 * liblinear/libsvm would bring a native build (or a WASM blob) for ~100 lines of arithmetic, and
 * we need two things their usual APIs do not offer: warm starts from given dual variables
 * (calibration's exact leave-one-out) and the working-set scheme below.
 *
 * Cost: O(identities x examples x dim) per training (every identity is trained against every
 * example). Measured on this project's shared 2-core machine (CPU time, one thread): 1000
 * identities x 5 embeddings ~8 s; 10k x 5 ~60 ms per identity, ~10 min in all.
 *
 * Problem for identity k: positives = k's enrolled embeddings (+1); negatives (-1) = every other
 * identity's positives + k's own enrolled negatives + the optional background embeddings (faces
 * of nobody in the gallery). Other identities' enrolled negatives are NOT negatives of k: "not
 * X" may well be k. Positives are few (3-10) against thousands of negatives, so the classes are
 * weighted: C+ = C n / (2 n+), C- = C n / (2 n-) ("balanced").
 *
 * Minimise over w (bias folded in as a last feature of constant value B, regularised like
 * liblinear): 1/2 |w|^2 + sum_i C_i loss(y_i w.x_i), loss = hinge (l1) or squared hinge (l2).
 * Score: w.x + b. No negatives at all (a single identity, no background): the "model" is the
 * identity's unit centroid with b = 0, so the score is the cosine to the centroid; enrol a second
 * identity or pass background embeddings for a real SVM.
 */
import type { Gallery } from './gallery';
import { scoreRows } from './search/topk';

export interface SvmOptions {
  /** Regularisation: larger fits the training data harder. Default 1. */
  C?: number;
  /** 'l2' squared hinge (liblinear -s 1, the default there) or 'l1' hinge (-s 3). Default 'l2'. */
  loss?: 'l1' | 'l2';
  /** Value of the constant feature that carries the bias (liblinear -B). Default 1. */
  bias?: number;
  /** Stopping tolerance on the projected-gradient gap. Default 0.01 (liblinear's default is 0.1). */
  eps?: number;
  /** Maximum passes over the data per identity. Default 1000. */
  maxIter?: number;
  /** Seed of the coordinate shuffle. Default 1. */
  seed?: number;
  /** 'balanced' (default) or 'none' (C for both classes). */
  classWeight?: 'balanced' | 'none';
  /**
   * Initial working-set size: the hardest negatives an identity's solve starts from (see
   * trainIdentity). Exact whatever the value; 0 solves the full problem directly. Default 256.
   */
  workingSet?: number;
}

export type ResolvedSvmOptions = Required<SvmOptions>;

export function resolveSvmOptions(o: SvmOptions = {}): ResolvedSvmOptions {
  const r: ResolvedSvmOptions = {
    C: o.C ?? 1,
    loss: o.loss ?? 'l2',
    bias: o.bias ?? 1,
    eps: o.eps ?? 0.01,
    maxIter: o.maxIter ?? 1000,
    seed: o.seed ?? 1,
    classWeight: o.classWeight ?? 'balanced',
    workingSet: o.workingSet ?? 256,
  };
  if (!(Number.isInteger(r.workingSet) && r.workingSet >= 0)) throw new RangeError(`svm workingSet must be an integer >= 0, got ${r.workingSet}`);
  if (!(r.C > 0)) throw new RangeError(`svm C must be > 0, got ${r.C}`);
  if (r.loss !== 'l1' && r.loss !== 'l2') throw new RangeError(`svm loss must be "l1" or "l2", got "${String(r.loss)}"`);
  if (!(r.bias >= 0)) throw new RangeError(`svm bias must be >= 0, got ${r.bias}`);
  if (!(r.eps > 0)) throw new RangeError(`svm eps must be > 0, got ${r.eps}`);
  if (!(Number.isInteger(r.maxIter) && r.maxIter > 0)) throw new RangeError(`svm maxIter must be a positive integer, got ${r.maxIter}`);
  if (r.classWeight !== 'balanced' && r.classWeight !== 'none') {
    throw new RangeError(`svm classWeight must be "balanced" or "none", got "${String(r.classWeight)}"`);
  }
  return r;
}

export const ROW_POSITIVE = 0;
export const ROW_NEGATIVE = 1;
export const ROW_BACKGROUND = 2;

/** Which gallery a model was trained on: the identities in order and their example counts. */
export interface GalleryShape {
  embedder: string;
  dim: number;
  galleryVersion: number;
  ids: string[];
  positives: number[];
  negatives: number[];
}

/**
 * A gallery packed for training (and for posting to a worker: typed arrays are transferable).
 * Row r of X (dim floats) is a positive of identity owner[r] (kind 0), an enrolled negative of
 * identity owner[r] (kind 1) or a background face (kind 2, owner -1).
 */
export interface TrainingSet {
  shape: GalleryShape;
  X: Float32Array;
  owner: Int32Array;
  kind: Uint8Array;
}

export function galleryShape(gallery: Gallery): GalleryShape {
  return {
    embedder: gallery.embedder,
    dim: gallery.dim,
    galleryVersion: gallery.version,
    ids: gallery.identities.map((i) => i.id),
    positives: gallery.identities.map((i) => i.embeddings.length),
    negatives: gallery.identities.map((i) => i.negatives.length),
  };
}

/** True when two shapes describe the same training data layout (version aside). */
export function sameShape(a: GalleryShape, b: GalleryShape): boolean {
  if (a.embedder !== b.embedder || a.dim !== b.dim || a.ids.length !== b.ids.length) return false;
  for (let k = 0; k < a.ids.length; k++) {
    if (a.ids[k] !== b.ids[k] || a.positives[k] !== b.positives[k] || a.negatives[k] !== b.negatives[k]) return false;
  }
  return true;
}

/**
 * Packs the gallery (and optional background faces, L2-normalised here) into a fresh buffer.
 * Background faces must not be the unknowns later used to calibrate (that would flatter FPIR).
 */
export function buildTrainingSet(gallery: Gallery, background: readonly Float32Array[] = []): TrainingSet {
  const dim = gallery.dim;
  let rows = background.length;
  for (const id of gallery.identities) rows += id.embeddings.length + id.negatives.length;
  const X = new Float32Array(rows * dim);
  const owner = new Int32Array(rows);
  const kind = new Uint8Array(rows);
  let r = 0;
  const put = (e: Float32Array, o: number, k: number, what: string) => {
    if (e.length !== dim) throw new RangeError(`${what} has ${e.length} values, ${dim} expected`);
    let s = 0;
    for (let j = 0; j < dim; j++) s += e[j] * e[j];
    if (!(s > 0) || !Number.isFinite(s)) throw new RangeError(`${what} is zero or non-finite`);
    const inv = 1 / Math.sqrt(s);
    for (let j = 0; j < dim; j++) X[r * dim + j] = e[j] * inv;
    owner[r] = o;
    kind[r] = k;
    r++;
  };
  gallery.identities.forEach((id, k) => {
    id.embeddings.forEach((e, i) => put(e, k, ROW_POSITIVE, `identity "${id.id}" embedding ${i}`));
    id.negatives.forEach((e, i) => put(e, k, ROW_NEGATIVE, `identity "${id.id}" negative ${i}`));
  });
  background.forEach((e, i) => put(e, -1, ROW_BACKGROUND, `background embedding ${i}`));
  return { shape: galleryShape(gallery), X, owner, kind };
}

export interface SvmModel {
  shape: GalleryShape;
  options: ResolvedSvmOptions;
  /** Row k (dim floats) = weights of identity shape.ids[k]. */
  weights: Float32Array;
  /** bias[k] = B * (bias weight of identity k). */
  bias: Float32Array;
  backgroundCount: number;
  stats: {
    trainMs: number;
    /** Most solver passes any identity needed (summed over working-set rounds). */
    maxIterations: number;
    maxRounds: number;
    /** Identities whose solve stopped at maxIter. */
    hitIterationLimit: number;
    /** Thread that trained (0 = main thread). */
    threadId: number;
  };
}

/** mulberry32: small, fast, seedable. */
export function rng32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

/** FNV-1a of a string mixed with a seed: per-identity shuffle seeds that do not depend on order. */
export function hashSeed(seed: number, s: string): number {
  let h = (0x811c9dc5 ^ seed) >>> 0;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/** One binary problem: rows of X with labels y (+1/-1) and per-class C. */
export interface BinaryProblem {
  X: Float32Array;
  dim: number;
  rows: Int32Array;
  y: Int8Array;
  Cpos: number;
  Cneg: number;
}

export interface DualSolution {
  /** dim weights then the bias-feature weight. */
  w: Float64Array;
  alpha: Float64Array;
  iterations: number;
}

/**
 * liblinear's solve_l2r_l1l2_svc (dual coordinate descent with shrinking). `warmAlpha`, when
 * given, starts from those dual variables (clipped to the box) instead of zero: the optimum is
 * the same, it is only reached sooner (calibration's leave-one-out uses this).
 */
export function solveDual(p: BinaryProblem, o: ResolvedSvmOptions, seed: number, warmAlpha?: Float64Array): DualSolution {
  const { X, dim, rows, y } = p;
  const l = rows.length;
  const B = o.bias;
  const w = new Float64Array(dim + 1);
  const alpha = new Float64Array(l);
  const l2 = o.loss === 'l2';
  const diagP = l2 ? 0.5 / p.Cpos : 0;
  const diagN = l2 ? 0.5 / p.Cneg : 0;
  const upP = l2 ? Infinity : p.Cpos;
  const upN = l2 ? Infinity : p.Cneg;
  const QD = new Float64Array(l);
  const index = new Int32Array(l);
  for (let i = 0; i < l; i++) {
    const off = rows[i] * dim;
    let s = B * B;
    for (let j = 0; j < dim; j++) s += X[off + j] * X[off + j];
    QD[i] = s + (y[i] > 0 ? diagP : diagN);
    index[i] = i;
  }
  if (warmAlpha) {
    for (let i = 0; i < l; i++) {
      const a = Math.min(Math.max(warmAlpha[i], 0), y[i] > 0 ? upP : upN);
      if (a === 0) continue;
      alpha[i] = a;
      const d = a * y[i];
      const off = rows[i] * dim;
      for (let j = 0; j < dim; j++) w[j] += d * X[off + j];
      w[dim] += d * B;
    }
  }
  const next = rng32(seed);
  let activeSize = l;
  let PGmaxOld = Infinity;
  let PGminOld = -Infinity;
  let iter = 0;
  while (iter < o.maxIter) {
    let PGmaxNew = -Infinity;
    let PGminNew = Infinity;
    for (let i = 0; i < activeSize; i++) {
      const j = i + (next() % (activeSize - i));
      const t = index[i];
      index[i] = index[j];
      index[j] = t;
    }
    for (let s = 0; s < activeSize; s++) {
      const i = index[s];
      const yi = y[i];
      const off = rows[i] * dim;
      let d0 = w[dim] * B;
      let d1 = 0;
      let j = 0;
      for (; j + 1 < dim; j += 2) {
        d0 += w[j] * X[off + j];
        d1 += w[j + 1] * X[off + j + 1];
      }
      for (; j < dim; j++) d0 += w[j] * X[off + j];
      const dot = d0 + d1;
      const pos = yi > 0;
      const C = pos ? upP : upN;
      const G = yi * dot - 1 + alpha[i] * (pos ? diagP : diagN);
      let PG = 0;
      const a = alpha[i];
      if (a === 0) {
        if (G > PGmaxOld) {
          activeSize--;
          index[s] = index[activeSize];
          index[activeSize] = i;
          s--;
          continue;
        } else if (G < 0) PG = G;
      } else if (a === C) {
        if (G < PGminOld) {
          activeSize--;
          index[s] = index[activeSize];
          index[activeSize] = i;
          s--;
          continue;
        } else if (G > 0) PG = G;
      } else PG = G;
      if (PG > PGmaxNew) PGmaxNew = PG;
      if (PG < PGminNew) PGminNew = PG;
      if (Math.abs(PG) > 1e-12) {
        const na = Math.min(Math.max(a - G / QD[i], 0), C);
        alpha[i] = na;
        const d = (na - a) * yi;
        for (let j = 0; j < dim; j++) w[j] += d * X[off + j];
        w[dim] += d * B;
      }
    }
    iter++;
    if (PGmaxNew - PGminNew <= o.eps) {
      if (activeSize === l) break;
      activeSize = l;
      PGmaxOld = Infinity;
      PGminOld = -Infinity;
      continue;
    }
    PGmaxOld = PGmaxNew <= 0 ? Infinity : PGmaxNew;
    PGminOld = PGminNew >= 0 ? -Infinity : PGminNew;
  }
  return { w, alpha, iterations: iter };
}

/** Rows and labels of identity k's one-vs-rest problem, with its class-weighted C. */
export function identityProblem(set: TrainingSet, k: number, o: ResolvedSvmOptions, exclude = -1): BinaryProblem & { nPos: number; nNeg: number } {
  const n = set.owner.length;
  const rows = new Int32Array(n);
  const y = new Int8Array(n);
  let l = 0;
  let nPos = 0;
  for (let r = 0; r < n; r++) {
    if (r === exclude) continue;
    const kind = set.kind[r];
    const own = set.owner[r] === k;
    if (kind === ROW_NEGATIVE && !own) continue;
    const positive = kind === ROW_POSITIVE && own;
    rows[l] = r;
    y[l++] = positive ? 1 : -1;
    if (positive) nPos++;
  }
  const nNeg = l - nPos;
  const balanced = o.classWeight === 'balanced';
  return {
    X: set.X,
    dim: set.shape.dim,
    rows: rows.subarray(0, l),
    y: y.subarray(0, l),
    Cpos: balanced && nPos > 0 ? (o.C * l) / (2 * nPos) : o.C,
    Cneg: balanced && nNeg > 0 ? (o.C * l) / (2 * nNeg) : o.C,
    nPos,
    nNeg,
  };
}

/**
 * out[t] = w . X[rows[t]] for t < count (the first dim weights of w). Four rows per pass over w:
 * about twice as fast in V8 as one row at a time.
 */
export function dotRows(X: Float32Array, dim: number, rows: Int32Array, count: number, w: Float64Array, out: Float64Array): void {
  let t = 0;
  for (; t + 3 < count; t += 4) {
    const o0 = rows[t] * dim;
    const o1 = rows[t + 1] * dim;
    const o2 = rows[t + 2] * dim;
    const o3 = rows[t + 3] * dim;
    let s0 = 0;
    let s1 = 0;
    let s2 = 0;
    let s3 = 0;
    for (let j = 0; j < dim; j++) {
      const wj = w[j];
      s0 += wj * X[o0 + j];
      s1 += wj * X[o1 + j];
      s2 += wj * X[o2 + j];
      s3 += wj * X[o3 + j];
    }
    out[t] = s0;
    out[t + 1] = s1;
    out[t + 2] = s2;
    out[t + 3] = s3;
  }
  for (; t < count; t++) {
    const o = rows[t] * dim;
    let s = 0;
    for (let j = 0; j < dim; j++) s += w[j] * X[o + j];
    out[t] = s;
  }
}

/** Solution of one identity's problem: its working set (absolute row numbers) and their dual variables. */
export interface IdentitySolution {
  rows: Int32Array;
  alpha: Float64Array;
}

export interface IdentityFit {
  w: Float32Array;
  /** Score bias (B times the bias-feature weight). */
  b: number;
  iterations: number;
  /** Working-set rounds (solve, then check the rest). */
  rounds: number;
  /** Some solve stopped at maxIter rather than at the tolerance. */
  hitLimit: boolean;
  /** Absent for the degenerate cases (no positives / no negatives). */
  solution?: IdentitySolution;
}

/**
 * Trains identity k's SVM. `exclude` drops one row (leave-one-out); `warm` starts from a previous
 * solution's working set and dual variables (rows missing from this problem are ignored).
 *
 * Working set (exact, it only saves time): most negatives of a one-vs-rest face problem end with
 * alpha = 0, i.e. they lie beyond the margin. The solver starts from the positives, the identity's
 * own negatives and the `workingSet` negatives most similar to the identity's centroid, solves
 * that sub-problem with the full problem's C values, then checks every left-out negative's margin
 * (one pass over the data): violators join the set and the sub-problem is re-solved from the
 * previous alphas, until none is left. The result satisfies the full problem's optimality
 * conditions to the solver's tolerance: the left-out rows are optimal at alpha = 0.
 */
export function trainIdentity(set: TrainingSet, k: number, o: ResolvedSvmOptions, exclude = -1, warm?: IdentitySolution): IdentityFit {
  const dim = set.shape.dim;
  const X = set.X;
  const p = identityProblem(set, k, o, exclude);
  const w = new Float32Array(dim);
  if (p.nPos === 0) return { w, b: -Infinity, iterations: 0, rounds: 0, hitLimit: false };
  if (p.nNeg === 0) {
    // Centroid fallback (see the file comment).
    const c = new Float64Array(dim);
    for (const r of p.rows) for (let j = 0; j < dim; j++) c[j] += X[r * dim + j];
    let s = 0;
    for (let j = 0; j < dim; j++) s += c[j] * c[j];
    const inv = s > 0 ? 1 / Math.sqrt(s) : 0;
    for (let j = 0; j < dim; j++) w[j] = c[j] * inv;
    return { w, b: 0, iterations: 0, rounds: 0, hitLimit: false };
  }
  const seed = hashSeed(o.seed, set.shape.ids[k]);
  const l = p.rows.length;
  const inSet = new Uint8Array(l);
  const prevAlpha = new Float64Array(l);
  const full = o.workingSet <= 0 || o.workingSet >= p.nNeg;
  if (full) inSet.fill(1);
  if (warm) {
    // Position of each absolute row in this problem.
    const pos = new Map<number, number>();
    for (let i = 0; i < l; i++) pos.set(p.rows[i], i);
    for (let i = 0; i < warm.rows.length; i++) {
      const at = pos.get(warm.rows[i]);
      if (at === undefined) continue;
      inSet[at] = 1;
      prevAlpha[at] = warm.alpha[i];
    }
  }
  if (!full) {
    const centroid = new Float64Array(dim);
    for (let i = 0; i < l; i++) {
      if (p.y[i] > 0 || set.kind[p.rows[i]] === ROW_NEGATIVE) {
        inSet[i] = 1;
        if (p.y[i] > 0) for (let j = 0, off = p.rows[i] * dim; j < dim; j++) centroid[j] += X[off + j];
      }
    }
    if (!warm) {
      // The `workingSet` negatives most similar to the centroid: a min-heap of (similarity, index).
      const cap = o.workingSet;
      const hs = new Float64Array(cap);
      const hi = new Int32Array(cap);
      let size = 0;
      const out = new Int32Array(l);
      const outRows = new Int32Array(l);
      let count = 0;
      for (let i = 0; i < l; i++) {
        if (inSet[i]) continue;
        out[count] = i;
        outRows[count++] = p.rows[i];
      }
      const sims = new Float64Array(count);
      dotRows(X, dim, outRows, count, centroid, sims);
      for (let t = 0; t < count; t++) {
        const sim = sims[t];
        const i = out[t];
        if (size < cap) {
          let c = size++;
          while (c > 0) {
            const par = (c - 1) >> 1;
            if (hs[par] <= sim) break;
            hs[c] = hs[par];
            hi[c] = hi[par];
            c = par;
          }
          hs[c] = sim;
          hi[c] = i;
        } else if (sim > hs[0]) {
          let c = 0;
          for (;;) {
            const a = 2 * c + 1;
            if (a >= size) break;
            const m = a + 1 < size && hs[a + 1] < hs[a] ? a + 1 : a;
            if (hs[m] >= sim) break;
            hs[c] = hs[m];
            hi[c] = hi[m];
            c = m;
          }
          hs[c] = sim;
          hi[c] = i;
        }
      }
      for (let t = 0; t < size; t++) inSet[hi[t]] = 1;
    }
  }
  const tol = o.eps / 2;
  let iterations = 0;
  let rounds = 0;
  let hitLimit = false;
  for (;;) {
    rounds++;
    let m = 0;
    for (let i = 0; i < l; i++) m += inSet[i];
    const idx = new Int32Array(m);
    for (let i = 0, t = 0; i < l; i++) if (inSet[i]) idx[t++] = i;
    const sub: BinaryProblem = {
      X,
      dim,
      rows: idx.map((i) => p.rows[i]),
      y: Int8Array.from(idx, (i) => p.y[i]),
      Cpos: p.Cpos,
      Cneg: p.Cneg,
    };
    const sol = solveDual(sub, o, seed, Float64Array.from(idx, (i) => prevAlpha[i]));
    iterations += sol.iterations;
    if (sol.iterations >= o.maxIter) hitLimit = true;
    for (let t = 0; t < m; t++) prevAlpha[idx[t]] = sol.alpha[t];
    // Margin check of the rows left out (all negatives): y (w.x + wb B) >= 1 - tol.
    let added = 0;
    if (m < l) {
      const wb = sol.w[dim] * o.bias;
      const out = new Int32Array(l - m);
      const outRows = new Int32Array(l - m);
      let count = 0;
      for (let i = 0; i < l; i++) {
        if (inSet[i]) continue;
        out[count] = i;
        outRows[count++] = p.rows[i];
      }
      const scores = new Float64Array(count);
      dotRows(X, dim, outRows, count, sol.w, scores);
      for (let t = 0; t < count; t++) {
        const i = out[t];
        if (p.y[i] * (scores[t] + wb) < 1 - tol) {
          inSet[i] = 1;
          added++;
        }
      }
    }
    if (added === 0) {
      for (let j = 0; j < dim; j++) w[j] = sol.w[j];
      return { w, b: sol.w[dim] * o.bias, iterations, rounds, hitLimit, solution: { rows: sub.rows, alpha: sol.alpha } };
    }
  }
}

/** Trains every identity's one-vs-rest SVM. Deterministic for a given set and options. */
export function trainSvm(set: TrainingSet, options: SvmOptions = {}, threadId = 0): SvmModel {
  const t0 = performance.now();
  const o = resolveSvmOptions(options);
  const { dim, ids } = set.shape;
  if (set.X.length !== set.owner.length * dim || set.kind.length !== set.owner.length) {
    throw new RangeError(`training set is inconsistent: ${set.X.length} floats for ${set.owner.length} rows of ${dim}`);
  }
  const weights = new Float32Array(ids.length * dim);
  const bias = new Float32Array(ids.length);
  let maxIterations = 0;
  let hitIterationLimit = 0;
  let maxRounds = 0;
  for (let k = 0; k < ids.length; k++) {
    const t = trainIdentity(set, k, o);
    weights.set(t.w, k * dim);
    bias[k] = t.b;
    if (t.iterations > maxIterations) maxIterations = t.iterations;
    if (t.rounds > maxRounds) maxRounds = t.rounds;
    if (t.hitLimit) hitIterationLimit++;
  }
  let backgroundCount = 0;
  for (let r = 0; r < set.kind.length; r++) if (set.kind[r] === ROW_BACKGROUND) backgroundCount++;
  return {
    shape: set.shape,
    options: o,
    weights,
    bias,
    backgroundCount,
    stats: { trainMs: performance.now() - t0, maxIterations, maxRounds, hitIterationLimit, threadId },
  };
}

/** trainSvm(buildTrainingSet(gallery, background), options), on the calling thread. */
export function trainGallery(gallery: Gallery, options: SvmOptions & { background?: readonly Float32Array[] } = {}): SvmModel {
  const { background, ...svm } = options;
  return trainSvm(buildTrainingSet(gallery, background), svm);
}

/** Scores of every identity for one unit-length probe: out[k] = W[k]·x + b[k]. */
export function scoreAll(model: SvmModel, x: Float32Array, out = new Float32Array(model.bias.length)): Float32Array {
  const dim = model.shape.dim;
  if (x.length !== dim) throw new RangeError(`probe has ${x.length} values, ${dim} expected`);
  const n = model.bias.length;
  // The one scoring loop (four identities per pass over the probe), shared with the exact index's JS path.
  scoreRows(model.weights, dim, x, out.length === n ? out : out.subarray(0, n), model.bias);
  return out;
}
