/**
 * Evaluation metrics: LFW 10-fold verification accuracy, closed-set rank-1 identification and
 * open-set FNIR at fixed FPIR. Pure functions over embeddings/distances (no I/O).
 *
 * Hand-written on purpose: each metric is a few dozen lines whose exact protocol (fold handling,
 * threshold candidates, tie rules, how FPIR is resolved with few impostors) is the point — a
 * general ML-metrics package would hide those choices or make different ones (e.g. a fixed
 * threshold grid), and the numbers must be reproducible and checkable by hand.
 *
 * Conventions: distances, smaller = more alike (import `distance` from embed/distance: cosine =
 * 1 - a·b/(|a||b|), i.e. 1 - a·b for L2-normalised vectors; euclidean = |a - b|). A pair or a probe
 * is ACCEPTED (same person / a match) when its distance is STRICTLY BELOW the threshold t; a distance
 * equal to t is rejected. Fractions are in 0..1.
 */
import { distance, type DistanceKind } from '../embed/distance';

export type { DistanceKind } from '../embed/distance';

export interface LabelledEmbedding {
  readonly label: string;
  readonly embedding: Float32Array;
}

// ---------------------------------------------------------------- verification (LFW protocol)

export interface ScoredPair {
  /** Fold id (any integers; the distinct values are the folds). */
  readonly fold: number;
  readonly same: boolean;
  readonly distance: number;
}

export interface ThresholdChoice {
  /** Pairs with distance < threshold are predicted "same". */
  readonly threshold: number;
  /** Accuracy of that threshold on the pairs it was chosen on. */
  readonly accuracy: number;
}

export interface FoldResult {
  readonly fold: number;
  readonly pairs: number;
  /** Threshold chosen on the other folds. */
  readonly threshold: number;
  /** Training accuracy of that threshold (on the other folds). */
  readonly trainAccuracy: number;
  /** Accuracy on this (held-out) fold. */
  readonly accuracy: number;
}

export interface VerificationResult {
  readonly folds: FoldResult[];
  readonly pairs: number;
  /** Mean of the per-fold held-out accuracies. */
  readonly accuracy: number;
  /** Population standard deviation (ddof 0) of the per-fold accuracies, as most LFW code reports. */
  readonly std: number;
  /** Standard error of the mean as the LFW README defines it: sample std (ddof 1) / sqrt(folds). */
  readonly standardError: number;
  /** Mean of the per-fold thresholds. */
  readonly threshold: number;
}

/** The smallest double greater than x (x finite). */
export function nextUp(x: number): number {
  if (x === 0) return Number.MIN_VALUE;
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, x);
  const bits = view.getBigUint64(0);
  view.setBigUint64(0, x > 0 ? bits + 1n : bits - 1n);
  return view.getFloat64(0);
}

/**
 * The threshold maximising accuracy on `pairs` (rule: same ⇔ distance < t).
 * Candidates, with v_0 < ... < v_{m-1} the distinct distances: v_0 (nothing accepted), the midpoint
 * between each consecutive pair (everything up to v_{j-1} accepted) and nextUp(v_{m-1}) (everything
 * accepted). Tie rule: among equally accurate candidates the SMALLEST threshold wins (the first
 * argmax over an ascending list, as in the common LFW evaluation code).
 */
export function bestThreshold(pairs: readonly Pick<ScoredPair, 'same' | 'distance'>[]): ThresholdChoice {
  if (pairs.length === 0) throw new RangeError('bestThreshold needs at least one pair');
  for (const p of pairs) if (!Number.isFinite(p.distance)) throw new RangeError(`pair distance must be finite, got ${p.distance}`);
  const sorted = [...pairs].sort((a, b) => a.distance - b.distance);
  let correct = sorted.filter((p) => !p.same).length; // t = v_0: all predicted different
  let best = { threshold: sorted[0].distance, correct };
  let i = 0;
  while (i < sorted.length) {
    const v = sorted[i].distance;
    while (i < sorted.length && sorted[i].distance === v) {
      correct += sorted[i].same ? 1 : -1; // pairs at v now accepted
      i++;
    }
    let t: number;
    if (i < sorted.length) {
      const next = sorted[i].distance;
      const mid = v + (next - v) / 2;
      t = mid > v && mid < next ? mid : next; // adjacent doubles: `< next` accepts exactly up to v
    } else {
      t = nextUp(v);
    }
    if (correct > best.correct) best = { threshold: t, correct };
  }
  return { threshold: best.threshold, accuracy: best.correct / pairs.length };
}

/**
 * LFW "unrestricted" 10-fold protocol: for each fold, the threshold is chosen (bestThreshold) on
 * the union of the other folds and applied to the held-out fold. Reports the mean and spread of
 * the held-out accuracies and the mean threshold. Needs at least two folds.
 */
export function verificationAccuracy(pairs: readonly ScoredPair[]): VerificationResult {
  const foldIds = [...new Set(pairs.map((p) => p.fold))].sort((a, b) => a - b);
  if (foldIds.length < 2) throw new RangeError(`verification needs pairs from at least 2 folds, got ${foldIds.length}`);
  const folds: FoldResult[] = foldIds.map((fold) => {
    const test = pairs.filter((p) => p.fold === fold);
    const train = pairs.filter((p) => p.fold !== fold);
    const choice = bestThreshold(train);
    const correct = test.filter((p) => (p.distance < choice.threshold) === p.same).length;
    return { fold, pairs: test.length, threshold: choice.threshold, trainAccuracy: choice.accuracy, accuracy: correct / test.length };
  });
  const accs = folds.map((f) => f.accuracy);
  const k = accs.length;
  const mean = sum(accs) / k;
  const ss = sum(accs.map((a) => (a - mean) ** 2));
  return {
    folds,
    pairs: pairs.length,
    accuracy: mean,
    std: Math.sqrt(ss / k),
    standardError: Math.sqrt(ss / (k - 1)) / Math.sqrt(k),
    threshold: sum(folds.map((f) => f.threshold)) / k,
  };
}

// ---------------------------------------------------------------- identification (closed and open set)

export interface IdentityDistance {
  readonly label: string;
  /** Min distance from the probe to this identity's enrolled embeddings. */
  readonly distance: number;
}

export interface ProbeScore {
  readonly label: string;
  /** Nearest gallery identity (null when the gallery is empty). */
  readonly nearestLabel: string | null;
  /** Distance to the nearest identity (Infinity when the gallery is empty). */
  readonly nearestDistance: number;
  /** Distance to the probe's own identity, null when that identity has no gallery embeddings. */
  readonly trueDistance: number | null;
  /**
   * Rank-1 correct: the probe's own identity is enrolled and STRICTLY nearer than every other
   * identity (a tie with another identity counts as an error).
   */
  readonly correct: boolean;
}

/** Per-identity minimum distances from `probe` to the gallery, nearest first (ties by label). */
export function identityDistances(gallery: readonly LabelledEmbedding[], probe: Float32Array, kind: DistanceKind): IdentityDistance[] {
  const best = new Map<string, number>();
  for (const g of gallery) {
    const d = distance(probe, g.embedding, kind);
    if (Number.isNaN(d)) throw new RangeError(`distance to a gallery embedding of ${g.label} is NaN; embeddings must be finite`);
    const cur = best.get(g.label);
    if (cur === undefined || d < cur) best.set(g.label, d);
  }
  return [...best].map(([label, d]) => ({ label, distance: d }))
    .sort((a, b) => a.distance - b.distance || (a.label < b.label ? -1 : a.label > b.label ? 1 : 0));
}

export function scoreProbe(gallery: readonly LabelledEmbedding[], probe: LabelledEmbedding, kind: DistanceKind): ProbeScore {
  const ids = identityDistances(gallery, probe.embedding, kind);
  if (ids.length === 0) return { label: probe.label, nearestLabel: null, nearestDistance: Infinity, trueDistance: null, correct: false };
  const own = ids.find((x) => x.label === probe.label);
  const bestOther = ids.find((x) => x.label !== probe.label);
  const correct = own !== undefined && (bestOther === undefined || own.distance < bestOther.distance);
  return {
    label: probe.label,
    nearestLabel: correct ? probe.label : ids[0].label,
    nearestDistance: ids[0].distance,
    trueDistance: own?.distance ?? null,
    correct,
  };
}

export interface Rank1Result {
  /** Fraction of enrolled-identity probes identified correctly at rank 1; null when there are no probes. */
  readonly rank1: number | null;
  readonly correct: number;
  readonly probes: number;
  /** Probes whose identity has no gallery embeddings (e.g. no face found at enrolment); counted as errors. */
  readonly probesWithoutGallery: number;
  readonly reason?: string;
}

/** Closed-set rank-1 accuracy over probes of enrolled identities. */
export function rank1Accuracy(scores: readonly ProbeScore[]): Rank1Result {
  const without = scores.filter((s) => s.trueDistance === null).length;
  if (scores.length === 0) return { rank1: null, correct: 0, probes: 0, probesWithoutGallery: 0, reason: 'no probes of enrolled identities' };
  const correct = scores.filter((s) => s.correct).length;
  return { rank1: correct / scores.length, correct, probes: scores.length, probesWithoutGallery: without };
}

export interface OpenSetPoint {
  /** Requested FPIR (e.g. 0.01). */
  readonly targetFpir: number;
  /**
   * Largest t with FPIR(t) <= target, where FPIR(t) = fraction of non-enrolled probes whose nearest
   * distance is < t. With unknown nearest distances sorted s_1 <= ... <= s_N and k = floor(target*N)
   * false alarms allowed, t = s_(k+1).
   */
  readonly threshold: number;
  /** FPIR actually obtained at t (<= target; with N unknowns it moves in steps of 1/N). */
  readonly fpirAchieved: number;
  readonly falseAlarms: number;
  /** Fraction of enrolled probes NOT (nearest identity correct AND nearest distance < t). */
  readonly fnir: number;
  readonly misses: number;
  /** Set when the target is below the resolution 1/N that N unknowns allow. */
  readonly note?: string;
}

export interface OpenSetResult {
  /** One point per target FPIR; null when it cannot be computed (see reason). */
  readonly points: OpenSetPoint[] | null;
  readonly reason?: string;
  readonly unknownProbes: number;
  readonly enrolledProbes: number;
  /** 1/N: the smallest non-zero FPIR N unknown probes can measure; null without unknowns. */
  readonly fpirResolution: number | null;
}

export const DEFAULT_FPIR_TARGETS: readonly number[] = [0.001, 0.01, 0.05];

/**
 * Open-set identification: FNIR at fixed FPIR (ISO/IEC 19795-1 / NIST FRVT terms), from the probe
 * scores of enrolled probes and the nearest gallery distance of each non-enrolled (unknown) probe.
 * Tie rule: a probe at exactly distance t is rejected, so an unknown at s_(k+1) is not a false alarm
 * and an enrolled probe at exactly t is a miss.
 */
export function openSetFnir(
  enrolled: readonly ProbeScore[],
  unknownNearest: readonly number[],
  targets: readonly number[] = DEFAULT_FPIR_TARGETS,
): OpenSetResult {
  const n = unknownNearest.length;
  const base = { unknownProbes: n, enrolledProbes: enrolled.length };
  if (n === 0) {
    return { ...base, points: null, fpirResolution: null, reason: 'no non-enrolled (unknown) probes: FPIR cannot be measured, so FNIR at a fixed FPIR is undefined' };
  }
  if (enrolled.length === 0) {
    return { ...base, points: null, fpirResolution: 1 / n, reason: 'no probes of enrolled identities: FNIR is undefined' };
  }
  for (const s of unknownNearest) if (Number.isNaN(s)) throw new RangeError('unknown probe distance is NaN');
  if (unknownNearest.some((s) => s === Infinity)) {
    return { ...base, points: null, fpirResolution: 1 / n, reason: 'the gallery is empty: nothing to match against' };
  }
  const sorted = [...unknownNearest].sort((a, b) => a - b);
  const points = targets.map((target): OpenSetPoint => {
    if (!(target >= 0 && target < 1)) throw new RangeError(`target FPIR must be in [0, 1), got ${target}`);
    // 1e-9 guards against products such as 0.29 * 100 = 28.999999999999996.
    const k = Math.min(Math.floor(target * n + 1e-9), n - 1);
    const t = sorted[k];
    const falseAlarms = sorted.filter((s) => s < t).length;
    const hits = enrolled.filter((p) => p.correct && p.nearestDistance < t).length;
    const point: OpenSetPoint = {
      targetFpir: target,
      threshold: t,
      fpirAchieved: falseAlarms / n,
      falseAlarms,
      fnir: (enrolled.length - hits) / enrolled.length,
      misses: enrolled.length - hits,
    };
    if (target > 0 && target < 1 / n) {
      return { ...point, note: `${n} unknown probes resolve FPIR only in steps of 1/${n} = ${(1 / n).toFixed(4)}; the target ${target} is below that, so t is the smallest unknown distance (FPIR ${point.fpirAchieved})` };
    }
    return point;
  });
  return { ...base, points, fpirResolution: 1 / n };
}

export interface IdentificationResult {
  readonly rank1: Rank1Result;
  readonly openSet: OpenSetResult;
  /** Per enrolled probe, in input order. */
  readonly probeScores: ProbeScore[];
  /** Nearest gallery distance per unknown probe, in input order. */
  readonly unknownNearest: number[];
}

/**
 * Scores every probe against the gallery once and derives rank-1 and FNIR@FPIR.
 * `unknowns` must not share labels with the gallery (they are people who are not enrolled).
 */
export function evaluateIdentification(
  gallery: readonly LabelledEmbedding[],
  probes: readonly LabelledEmbedding[],
  unknowns: readonly LabelledEmbedding[],
  kind: DistanceKind,
  targets: readonly number[] = DEFAULT_FPIR_TARGETS,
): IdentificationResult {
  const enrolledLabels = new Set(gallery.map((g) => g.label));
  const clash = unknowns.find((u) => enrolledLabels.has(u.label));
  if (clash) throw new RangeError(`unknown probe label ${clash.label} is enrolled in the gallery; unknown probes must be of people who are not enrolled`);
  const probeScores = probes.map((p) => scoreProbe(gallery, p, kind));
  const unknownNearest = unknowns.map((u) => {
    const ids = identityDistances(gallery, u.embedding, kind);
    return ids.length > 0 ? ids[0].distance : Infinity;
  });
  return { rank1: rank1Accuracy(probeScores), openSet: openSetFnir(probeScores, unknownNearest, targets), probeScores, unknownNearest };
}

function sum(xs: readonly number[]): number {
  let s = 0;
  for (const x of xs) s += x;
  return s;
}
