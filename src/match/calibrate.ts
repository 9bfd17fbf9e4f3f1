/**
 * Threshold calibration for the open-set rule (matcher.ts) from faces of people NOT in the gallery.
 *
 * FPIR (false-positive identification rate) = share of unknown faces the rule would report as
 * some identity. FNIR = share of enrolled people's faces not reported as themselves. Genuine
 * faces come from the gallery itself by leave-one-out: each enrolled positive p of an identity
 * with >= 2 positives is a probe; its own identity's SVM is retrained without p (warm-started
 * from the full solution, so this is exact and cheap), and the distance is taken to the other
 * positives. The other identities' SVMs are the model's, which saw p as a negative: that makes
 * the misidentification estimate slightly optimistic.
 *
 * The search maximises accepted genuine probes subject to (accepted unknowns) <= floor(target x
 * unknowns) over the joint (svm, distance) thresholds, then minimises the unknowns accepted (the
 * budget is a ceiling, not a goal). The svm threshold is then centred between the lowest accepted
 * genuine score and the highest unknown score below it, and the distance threshold widened
 * half-way towards the next unknown it would accept.
 * Measured FPIR can only be resolved to 1/unknowns: a target below that is reported (warning, or
 * an error with onInsufficient 'throw') and the strictest thresholds (no unknown accepted) used.
 *
 * The unknowns must not include anyone enrolled, nor the background faces the SVM was trained
 * with (that would flatter FPIR). Rates are per single embedding; matchTrack's default
 * 'majority' aggregation keeps a track's FPIR at or below it (see matcher.ts).
 *
 * Cost: one scoring per unknown plus one warm-started retrain per probe; 1000 identities x 5,
 * 1000 unknowns, 2000 probes (the default maxProbes) took ~19 s of CPU here.
 */
import type { Gallery, Thresholds } from './gallery';
import { type Assessment, assess, decide, dot, unitCopy } from './matcher';
import {
  type SvmModel,
  ROW_POSITIVE,
  buildTrainingSet,
  galleryShape,
  resolveSvmOptions,
  sameShape,
  scoreAll,
  trainIdentity,
} from './svm';

export interface CalibrateOptions {
  /** The background faces the model was trained with (needed to retrain for leave-one-out). */
  background?: readonly Float32Array[];
  /** Retrain the probe's own SVM without it (default true). false: use the model as is (optimistic). */
  leaveOneOut?: boolean;
  /** At most this many genuine probes, spread evenly over the gallery (default 2000). */
  maxProbes?: number;
  /** A target below the resolution 1/unknowns: 'warn' (default) or 'throw'. */
  onInsufficient?: 'warn' | 'throw';
  /** Clock for calibratedAt. */
  now?: () => Date;
}

export interface CalibrationCounts {
  identities: number;
  unknowns: number;
  unknownsAccepted: number;
  /** Genuine leave-one-out probes evaluated. */
  probes: number;
  probesAccepted: number;
  /** Probes reported as another identity. */
  probesMisidentified: number;
  /** Positives not usable as probes (their identity has a single positive) or left out by maxProbes. */
  probesSkipped: number;
}

export interface CalibrationResult {
  thresholds: Thresholds;
  targetFpir: number;
  achievedFpir: number;
  /** One-sided 95% Clopper-Pearson upper bound of the FPIR given the count. */
  fpirUpper95: number;
  /** NaN when there were no genuine probes. */
  estimatedFnir: number;
  misidentificationRate: number;
  /** 1 / unknowns: the smallest FPIR step measurable. */
  resolution: number;
  resolutionLimited: boolean;
  counts: CalibrationCounts;
  warnings: string[];
}

interface Scored {
  s: number;
  d: number;
  /** Closer to a negative of the candidate than to its positives: never accepted. */
  blocked: boolean;
}

/** One-sided upper confidence bound for a binomial proportion (k of n), Clopper-Pearson. */
export function binomialUpper(k: number, n: number, confidence = 0.95): number {
  if (n <= 0) return 1;
  if (k >= n) return 1;
  const alpha = 1 - confidence;
  if (k === 0) return 1 - Math.pow(alpha, 1 / n);
  // P(X <= k; n, p) is decreasing in p: bisect for alpha.
  const lgamma = (x: number): number => {
    // Lanczos approximation.
    const g = 7;
    const c = [0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
      12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7];
    if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - lgamma(1 - x);
    x -= 1;
    let a = c[0];
    const t = x + g + 0.5;
    for (let i = 1; i < g + 2; i++) a += c[i] / (x + i);
    return 0.5 * Math.log(2 * Math.PI) + (x + 0.5) * Math.log(t) - t + Math.log(a);
  };
  const lc = (i: number) => lgamma(n + 1) - lgamma(i + 1) - lgamma(n - i + 1);
  const cdf = (p: number) => {
    let s = 0;
    for (let i = 0; i <= k; i++) s += Math.exp(lc(i) + i * Math.log(p) + (n - i) * Math.log1p(-p));
    return s;
  };
  let lo = k / n;
  let hi = 1;
  for (let it = 0; it < 60; it++) {
    const mid = (lo + hi) / 2;
    if (cdf(mid) > alpha) lo = mid;
    else hi = mid;
  }
  return hi;
}

function formatRate(x: number): string {
  return Number(x.toPrecision(3)).toString();
}

/** Min-heap of the `cap` largest values pushed. */
class TopK {
  private h: number[] = [];
  constructor(private readonly cap: number) {}
  push(v: number): void {
    const h = this.h;
    if (this.cap === 0) return;
    if (h.length < this.cap) {
      h.push(v);
      let i = h.length - 1;
      while (i > 0) {
        const p = (i - 1) >> 1;
        if (h[p] <= h[i]) break;
        [h[p], h[i]] = [h[i], h[p]];
        i = p;
      }
    } else if (v > h[0]) {
      h[0] = v;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && h[l] < h[m]) m = l;
        if (r < h.length && h[r] < h[m]) m = r;
        if (m === i) break;
        [h[m], h[i]] = [h[i], h[m]];
        i = m;
      }
    }
  }
  get full(): boolean {
    return this.h.length === this.cap;
  }
  get min(): number {
    return this.h[0];
  }
}

/**
 * Chooses thresholds so that at most `targetFpir` of `unknowns` (faces of people not enrolled)
 * are accepted while as many leave-one-out genuine probes as possible are. Store the result with
 * setThresholds(gallery, result.thresholds).
 */
export function calibrate(
  gallery: Gallery,
  model: SvmModel,
  unknowns: readonly Float32Array[],
  targetFpir: number,
  options: CalibrateOptions = {},
): CalibrationResult {
  if (!(targetFpir > 0 && targetFpir < 1)) throw new RangeError(`targetFpir must be in (0, 1), got ${targetFpir}`);
  if (unknowns.length === 0) throw new Error('calibration needs unknown faces (people not in the gallery); none given');
  if (gallery.identities.length === 0) throw new Error('calibration needs a gallery with at least one identity');
  if (!sameShape(model.shape, galleryShape(gallery))) {
    throw new Error(`model was trained on gallery version ${model.shape.galleryVersion}, not on version ${gallery.version}: retrain before calibrating`);
  }
  const background = options.background ?? [];
  const leaveOneOut = options.leaveOneOut ?? true;
  if (leaveOneOut && background.length !== model.backgroundCount) {
    throw new Error(
      `the model was trained with ${model.backgroundCount} background embeddings but ${background.length} were given: ` +
        'pass the same background (options.background) so leave-one-out retrains the same problem',
    );
  }
  const maxProbes = options.maxProbes ?? 2000;
  const dim = gallery.dim;
  const warnings: string[] = [];
  const nU = unknowns.length;
  const resolution = 1 / nU;
  const budget = Math.floor(targetFpir * nU + 1e-9);
  const resolutionLimited = targetFpir < resolution;
  if (resolutionLimited) {
    const msg =
      `target FPIR ${formatRate(targetFpir)} is below the resolution of ${nU} unknown faces (1/${nU} = ` +
      `${formatRate(resolution)}); at least ${Math.ceil(1 / targetFpir)} unknowns are needed to measure it. ` +
      'Using the strictest thresholds (no unknown accepted)';
    if (options.onInsufficient === 'throw') throw new Error(msg);
    warnings.push(msg);
  }

  const scores = new Float32Array(gallery.identities.length);
  const toScored = (a: Assessment): Scored => ({ s: a.topScore, d: a.distance, blocked: a.negativeDistance < a.distance });

  // Unknowns.
  const U: Scored[] = [];
  const unknownAssessments: Assessment[] = [];
  unknowns.forEach((e, i) => {
    const u = unitCopy(e, dim);
    if (!u) throw new RangeError(`unknown embedding ${i} is not a finite non-zero vector of ${dim} values`);
    scoreAll(model, u, scores);
    const a = assess(gallery, scores, u);
    unknownAssessments.push(a);
    U.push(toScored(a));
  });

  // Genuine leave-one-out probes.
  const set = buildTrainingSet(gallery, background);
  const o = resolveSvmOptions(model.options);
  const posRows: number[][] = gallery.identities.map(() => []);
  for (let r = 0; r < set.owner.length; r++) if (set.kind[r] === ROW_POSITIVE) posRows[set.owner[r]].push(r);
  let eligible = 0;
  let allPositives = 0;
  for (const rows of posRows) {
    allPositives += rows.length;
    if (rows.length >= 2) eligible += rows.length;
  }
  const take = (j: number) => eligible <= maxProbes || Math.floor(((j + 1) * maxProbes) / eligible) !== Math.floor((j * maxProbes) / eligible);
  const correct: Scored[] = [];
  const genuineAssessments: { a: Assessment; k: number }[] = [];
  let j = 0;
  gallery.identities.forEach((_, k) => {
    const rows = posRows[k];
    if (rows.length < 2) return;
    const chosen = rows.map((_, p) => take(j + p));
    j += rows.length;
    if (!chosen.some(Boolean)) return;
    const full = leaveOneOut ? trainIdentity(set, k, o) : undefined;
    rows.forEach((row, p) => {
      if (!chosen[p]) return;
      const probe = set.X.subarray(row * dim, (row + 1) * dim);
      scoreAll(model, probe, scores);
      if (full) {
        const loo = trainIdentity(set, k, o, row, full.solution);
        scores[k] = dot(loo.w, probe) + loo.b;
      }
      const a = assess(gallery, scores, probe, k, p);
      genuineAssessments.push({ a, k });
      if (a.top === k) correct.push(toScored(a));
    });
  });
  const nG = genuineAssessments.length;
  const skipped = allPositives - nG;
  if (nG === 0) {
    warnings.push(
      'no genuine probes: every identity has a single enrolled embedding, so leave-one-out is impossible; ' +
        `FNIR is unknown and the distance threshold stays at ${formatRate(gallery.thresholds.distance)}`,
    );
  }

  // Joint search: for each distance threshold (a genuine probe's distance), the budget fixes the
  // lowest svm threshold; keep the pair with the most genuine accepts, then the fewest unknowns
  // accepted (the svm threshold raised to the lowest accepted genuine score), then the smaller
  // distance.
  const eligibleU = U.filter((u) => !u.blocked).sort((a, b) => a.d - b.d);
  const G = correct.filter((g) => !g.blocked).sort((a, b) => a.d - b.d);
  let best = { tp: -1, fp: Infinity, td: gallery.thresholds.distance, bound: -Infinity, minAccepted: Infinity };
  const candidates: number[] = [];
  if (G.length > 0) {
    for (const g of G) if (candidates.length === 0 || g.d > candidates[candidates.length - 1]) candidates.push(g.d);
  } else {
    candidates.push(gallery.thresholds.distance);
  }
  const heap = new TopK(budget + 1);
  let ui = 0;
  for (const td of candidates) {
    while (ui < eligibleU.length && eligibleU[ui].d <= td) heap.push(eligibleU[ui++].s);
    const bound = heap.full ? heap.min : -Infinity; // the svm threshold must exceed it
    let tp = 0;
    let minAccepted = Infinity;
    for (const g of G) {
      if (g.d > td) break;
      if (g.s > bound) {
        tp++;
        if (g.s < minAccepted) minAccepted = g.s;
      }
    }
    if (tp < best.tp) continue;
    let fp = 0;
    const floor = tp > 0 ? minAccepted : bound;
    for (let i = 0; i < ui; i++) if (eligibleU[i].s > floor || (tp > 0 && eligibleU[i].s === floor)) fp++;
    if (tp > best.tp || fp < best.fp) best = { tp, fp, td, bound, minAccepted };
  }

  // The svm threshold: centred between the lowest accepted genuine score and the highest unknown
  // score below it (unknowns within the distance threshold first, then any).
  let svm: number;
  if (Number.isFinite(best.minAccepted)) {
    let below = -Infinity;
    for (const u of eligibleU) if (u.d <= best.td && u.s < best.minAccepted && u.s > below) below = u.s;
    if (below === -Infinity) for (const u of U) if (u.s < best.minAccepted && u.s > below) below = u.s;
    svm = below === -Infinity ? best.minAccepted - 1e-6 : (below + best.minAccepted) / 2;
  } else if (Number.isFinite(best.bound)) {
    svm = best.bound + Math.max(1e-6, Math.abs(best.bound) * 1e-6);
  } else {
    svm = gallery.thresholds.svm;
  }

  // Widen the distance threshold towards the next unknown it would accept, without accepting it.
  let distance = best.td;
  if (G.length > 0) {
    let dFirst = Infinity;
    for (const u of eligibleU) if (u.s >= svm && u.d > best.td && u.d < dFirst) dFirst = u.d;
    let lastG = best.td;
    for (const g of G) if (g.s >= svm && g.d < dFirst && g.d > lastG) lastG = g.d;
    distance = Number.isFinite(dFirst) ? (lastG + dFirst) / 2 : lastG;
  }

  const thresholds: Thresholds = {
    svm,
    distance,
    targetFpir,
    calibratedAt: (options.now ?? (() => new Date()))().toISOString(),
    calibrationSize: nU,
  };
  // Exact figures under the final thresholds, with the matcher's own rule.
  let unknownsAccepted = 0;
  for (const a of unknownAssessments) if (decide(a, thresholds) === 'accepted') unknownsAccepted++;
  let probesAccepted = 0;
  let probesMisidentified = 0;
  for (const { a, k } of genuineAssessments) {
    if (decide(a, thresholds) !== 'accepted') continue;
    if (a.top === k) probesAccepted++;
    else probesMisidentified++;
  }
  const achievedFpir = unknownsAccepted / nU;
  const estimatedFnir = nG > 0 ? 1 - probesAccepted / nG : NaN;
  thresholds.achievedFpir = achievedFpir;
  if (nG > 0) thresholds.estimatedFnir = estimatedFnir;
  if (unknownsAccepted > budget) {
    // Cannot happen by construction; guard against a future edit breaking the promise.
    throw new Error(`calibration accepted ${unknownsAccepted} unknowns, budget ${budget}: internal error`);
  }
  return {
    thresholds,
    targetFpir,
    achievedFpir,
    fpirUpper95: binomialUpper(unknownsAccepted, nU),
    estimatedFnir,
    misidentificationRate: nG > 0 ? probesMisidentified / nG : NaN,
    resolution,
    resolutionLimited,
    counts: {
      identities: gallery.identities.length,
      unknowns: nU,
      unknownsAccepted,
      probes: nG,
      probesAccepted,
      probesMisidentified,
      probesSkipped: skipped,
    },
    warnings,
  };
}
