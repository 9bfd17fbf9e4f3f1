/**
 * Conversions between the embedded-mode types and the records, so the distributed services reuse the same cores:
 *   ingest: AlignedFace (analyzeFrame) + Track (FaceTracker) + frame → FaceCrop
 *   embed:  FaceCrop + its embedding (Embedder.embed(crop.crop)) → FaceEmbedding
 *   match:  FaceEmbedding → TrackFace (TrackDecider.picture); FaceEmbedding + decision → AlertInput (buildAlert)
 * None of them copies crops, JPEGs or embeddings: records share them with their inputs.
 */
import type { AlertInput } from '../alerts/alert';
import type { AlignedFace } from '../detect/types';
import type { TimedFrame } from '../ingest/camera-source';
import type { AlertDecision, TrackFace } from '../runtime/track-decider';
import type { Track } from '../track/tracker';
import { SchemaError } from './errors';
import type { FaceCrop, FaceEmbedding, StageStamp } from './types';

export interface FaceCropOptions {
  /** Embedder the crop was aligned for (its descriptor name). */
  model: string;
  /** JPEG of the face region of the frame, for the alert picture. */
  faceJpeg?: Uint8Array;
  /** Stamps so far (e.g. ingest.decode, ingest.detect, ingest.align). */
  stages?: StageStamp[];
}

/** ingest: an aligned face of `track` in `frame` → FaceCrop (checked when encoded). */
export function faceCropFromAligned(
  face: AlignedFace,
  track: Pick<Track, 'id' | 'camera' | 'firstSeen'>,
  frame: Pick<TimedFrame, 'seq' | 'ts' | 'width' | 'height'>,
  options: FaceCropOptions,
): FaceCrop {
  const crop: FaceCrop = {
    camera: track.camera,
    track: { id: track.id, firstSeenMs: track.firstSeen },
    frame: { seq: frame.seq, tsMs: frame.ts, width: frame.width, height: frame.height },
    detection: face.detection,
    quality: face.quality,
    model: options.model,
    stages: options.stages ? [...options.stages] : [],
    crop: face.crop,
  };
  if (options.faceJpeg !== undefined) crop.faceJpeg = options.faceJpeg;
  return crop;
}

/** embed: the crop's context with its embedding instead of the crop. `model` defaults to the crop's. */
export function faceEmbeddingFromCrop(crop: FaceCrop, embedding: Float32Array, model: string = crop.model): FaceEmbedding {
  const { crop: _pixels, ...context } = crop;
  return { ...context, stages: [...crop.stages], model, embedding };
}

/**
 * match: the face as TrackDecider keeps it for the alert picture (for the track's life: the JPEG is copied, so it
 * does not pin the record's fetch buffer); undefined when the record has no JPEG.
 */
export function trackFaceFromEmbedding(e: FaceEmbedding): TrackFace | undefined {
  if (!e.faceJpeg) return undefined;
  return {
    box: { ...e.detection.box },
    ts: e.frame.tsMs,
    quality: e.quality.score,
    jpeg: Buffer.from(e.faceJpeg),
    detectorScore: e.detection.score,
    frameSize: { width: e.frame.width, height: e.frame.height },
  };
}

/** What the match stage decided about a face's track (TrackDecider's AlertDecision fits). */
export type MatchDecision = Pick<AlertDecision, 'identity' | 'watchlists' | 'result'> & Partial<Pick<AlertDecision, 'firstSeen' | 'lastSeen'>>;

/**
 * match: an accepted face → buildAlert() input, with the face's own box, picture and detector score; first/last
 * seen from the decision when given, else the track's first sighting and this frame's time. Throws SchemaError
 * when the record has no face JPEG (an alert needs its picture) or the decision is not an acceptance.
 */
export function alertInputFromEmbedding(e: FaceEmbedding, decision: MatchDecision): AlertInput {
  if (!e.faceJpeg) throw new SchemaError('FaceEmbedding', 'face_jpeg: missing (an alert needs the face picture)');
  if (!decision.result.accepted) throw new SchemaError('FaceEmbedding', `the match decision was not an acceptance (${decision.result.reason})`);
  return {
    camera: e.camera,
    identity: { id: decision.identity.id, name: decision.identity.name },
    watchlists: [...decision.watchlists],
    scores: { svm: decision.result.svmScore, distance: decision.result.distance, detector: e.detection.score },
    trackId: e.track.id,
    firstSeen: decision.firstSeen ?? e.track.firstSeenMs,
    lastSeen: decision.lastSeen ?? e.frame.tsMs,
    box: { ...e.detection.box },
    frameSize: { width: e.frame.width, height: e.frame.height },
    faceJpeg: e.faceJpeg,
  };
}
