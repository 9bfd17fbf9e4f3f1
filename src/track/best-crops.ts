/**
 * Which crops of a track to embed. Embedding is the expensive stage, and a track seen at 5-10
 * analysis frames a second repeats the same face, so per track:
 *   - a crop must pass the quality gate (size, eye distance, blur, pose);
 *   - the first crop that passes is embedded;
 *   - after that, only a crop whose quality score beats the best embedded so far by `margin`;
 *   - at most `maxPerTrack` crops (default 5), and at most one per `minIntervalMs`.
 * A better crop arriving inside the interval is skipped (not queued); a later one that still beats
 * the best by the margin is taken. Pure: time is passed in.
 */
import { DEFAULT_QUALITY_THRESHOLDS, qualityGate, type QualityThresholds } from '../detect/quality';
import type { FaceQuality } from '../detect/types';

/** The gate is the face core's quality gate (size, eye distance, blur, pose): one definition for every stage. */
export type QualityGate = QualityThresholds;
export const DEFAULT_GATE: QualityGate = DEFAULT_QUALITY_THRESHOLDS;

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
  if (!Number.isFinite(q.score)) return `quality score ${q.score} is not a number`;
  return qualityGate(q, gate) ?? undefined;
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
