/**
 * Which crops of a track to embed. Embedding is the expensive stage, and a track seen at 5-10
 * analysis frames a second repeats the same face, so per track:
 *   - a crop must pass the quality gate (size, pose, blur, overall score);
 *   - the first crop that passes is embedded;
 *   - after that, only a crop whose quality score beats the best embedded so far by `margin`;
 *   - at most `maxPerTrack` crops (default 5), and at most one per `minIntervalMs`.
 * A better crop arriving inside the interval is skipped (not queued); a later one that still beats
 * the best by the margin is taken. Pure: time is passed in.
 */
import type { FaceQuality } from '../detect/types';

export interface QualityGate {
  /** Minimum FaceQuality.score (0..1). Default 0.2. */
  minScore: number;
  /** Minimum face size (min of box sides) in source pixels. Default 32. */
  minFaceSize: number;
  /** Minimum inter-ocular distance in source pixels. Default 0 (off). */
  minEyeDistance: number;
  /** Minimum Laplacian variance of the aligned crop. Default 0 (off: its scale depends on the crop size). */
  minBlur: number;
  /** Maximum |yaw|, |pitch|, |roll| in degrees. Defaults 45, 35, 45. */
  maxYaw: number;
  maxPitch: number;
  maxRoll: number;
}

export const DEFAULT_GATE: QualityGate = {
  minScore: 0.2,
  minFaceSize: 32,
  minEyeDistance: 0,
  minBlur: 0,
  maxYaw: 45,
  maxPitch: 35,
  maxRoll: 45,
};

export interface BestCropOptions {
  maxPerTrack?: number;
  minIntervalMs?: number;
  /** How much a crop's quality score must beat the best embedded so far. Default 0.05. */
  margin?: number;
  gate?: Partial<QualityGate>;
}

export interface ResolvedBestCropOptions {
  maxPerTrack: number;
  minIntervalMs: number;
  margin: number;
  gate: QualityGate;
}

export function resolveBestCropOptions(o: BestCropOptions = {}): ResolvedBestCropOptions {
  const r = {
    maxPerTrack: o.maxPerTrack ?? 5,
    minIntervalMs: o.minIntervalMs ?? 500,
    margin: o.margin ?? 0.05,
    gate: { ...DEFAULT_GATE, ...o.gate },
  };
  if (!(Number.isInteger(r.maxPerTrack) && r.maxPerTrack >= 1)) throw new RangeError(`maxPerTrack must be an integer >= 1, got ${r.maxPerTrack}`);
  if (!(r.minIntervalMs >= 0)) throw new RangeError(`minIntervalMs must be >= 0, got ${r.minIntervalMs}`);
  if (!(r.margin >= 0)) throw new RangeError(`margin must be >= 0, got ${r.margin}`);
  return r;
}

/** Why a crop fails the gate, or undefined when it passes. */
export function gateFailure(q: FaceQuality, gate: QualityGate = DEFAULT_GATE): string | undefined {
  if (!(q.score >= gate.minScore)) return `quality score ${q.score.toFixed(2)} < ${gate.minScore}`;
  if (!(q.faceSize >= gate.minFaceSize)) return `face size ${q.faceSize.toFixed(0)} px < ${gate.minFaceSize}`;
  if (!(q.eyeDistance >= gate.minEyeDistance)) return `eye distance ${q.eyeDistance.toFixed(0)} px < ${gate.minEyeDistance}`;
  if (!(q.blur >= gate.minBlur)) return `blur ${q.blur.toFixed(1)} < ${gate.minBlur}`;
  if (!(Math.abs(q.yaw) <= gate.maxYaw)) return `|yaw| ${Math.abs(q.yaw).toFixed(0)} > ${gate.maxYaw}`;
  if (!(Math.abs(q.pitch) <= gate.maxPitch)) return `|pitch| ${Math.abs(q.pitch).toFixed(0)} > ${gate.maxPitch}`;
  if (!(Math.abs(q.roll) <= gate.maxRoll)) return `|roll| ${Math.abs(q.roll).toFixed(0)} > ${gate.maxRoll}`;
  return undefined;
}

/** What has been embedded for one track. */
export interface CropState {
  embedded: number;
  bestScore: number;
  lastEmbedAt: number;
}

export type CropReason = 'first' | 'better' | 'gate-failed' | 'not-better' | 'too-soon' | 'limit-reached';

export interface CropDecision {
  embed: boolean;
  reason: CropReason;
  /** For gate-failed: what failed. */
  detail?: string;
}

/** The decision for one crop and the track's state afterwards (the input state is not modified). */
export function decideCrop(
  state: CropState | undefined,
  quality: FaceQuality,
  timestampMs: number,
  options: ResolvedBestCropOptions,
): { decision: CropDecision; state: CropState | undefined } {
  const failed = gateFailure(quality, options.gate);
  if (failed) return { decision: { embed: false, reason: 'gate-failed', detail: failed }, state };
  if (!state) {
    return { decision: { embed: true, reason: 'first' }, state: { embedded: 1, bestScore: quality.score, lastEmbedAt: timestampMs } };
  }
  if (state.embedded >= options.maxPerTrack) return { decision: { embed: false, reason: 'limit-reached' }, state };
  if (!(quality.score >= state.bestScore + options.margin)) return { decision: { embed: false, reason: 'not-better' }, state };
  if (timestampMs - state.lastEmbedAt < options.minIntervalMs) return { decision: { embed: false, reason: 'too-soon' }, state };
  return {
    decision: { embed: true, reason: 'better' },
    state: { embedded: state.embedded + 1, bestScore: quality.score, lastEmbedAt: timestampMs },
  };
}

/** decideCrop over many tracks. Call forget() when a track expires. */
export class BestCrops {
  private readonly states = new Map<string, CropState>();
  readonly options: ResolvedBestCropOptions;

  constructor(options: BestCropOptions = {}) {
    this.options = resolveBestCropOptions(options);
  }

  consider(trackId: string, quality: FaceQuality, timestampMs: number): CropDecision {
    const { decision, state } = decideCrop(this.states.get(trackId), quality, timestampMs, this.options);
    if (state) this.states.set(trackId, state);
    return decision;
  }

  /** How many crops of the track were chosen for embedding. */
  embedded(trackId: string): number {
    return this.states.get(trackId)?.embedded ?? 0;
  }

  forget(trackId: string): void {
    this.states.delete(trackId);
  }

  get size(): number {
    return this.states.size;
  }
}
