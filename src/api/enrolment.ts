/**
 * Enrolment of uploaded images: per image, the faces found, the chosen face's quality, and accepted or the reason
 * it was not. Reasons: no-face, several-faces (api.facePolicy 'single'), too-small, too-blurry, bad-pose (the
 * stream's quality gate, config `quality`), unreadable (empty, corrupt, truncated, not an image), too-large (bytes
 * or pixels, checked before decoding). Images are processed in memory and dropped; only accepted embeddings remain.
 */
import type { FaceQuality } from '../detect/types';
import { ImageInputError } from '../image/errors';
import { chooseFace, type FacePolicy } from '../pipeline/images';
import type { AnalyzedFace, FaceService } from './faces';
import type { UploadedImage } from './uploads';

export type RejectReason = 'no-face' | 'several-faces' | 'too-small' | 'too-blurry' | 'bad-pose' | 'unreadable' | 'too-large';

export interface ImageResult {
  field: string;
  filename: string;
  faces: number;
  accepted: boolean;
  reason?: RejectReason;
  message?: string;
  /** The chosen face. */
  box?: AnalyzedFace['box'];
  quality?: QualityView;
}

export interface QualityView {
  score: number;
  faceSize: number;
  eyeDistance: number;
  blur: number;
  yaw: number;
  pitch: number;
  roll: number;
}

const round = (v: number, d = 3) => Math.round(v * 10 ** d) / 10 ** d;

export function qualityView(q: FaceQuality): QualityView {
  return { score: round(q.score), faceSize: round(q.faceSize, 1), eyeDistance: round(q.eyeDistance, 1), blur: round(q.blur, 1), yaw: round(q.yaw, 1), pitch: round(q.pitch, 1), roll: round(q.roll, 1) };
}

function gateReason(gate: string): RejectReason {
  if (gate.startsWith('too small')) return 'too-small';
  if (gate.startsWith('too blurry')) return 'too-blurry';
  return 'bad-pose';
}

function imageErrorReason(e: ImageInputError): RejectReason {
  return e.code === 'too-large-file' || e.code === 'too-large-dimensions' ? 'too-large' : 'unreadable';
}

/** The face standing for the image under the policy (pipeline/images.ts chooseFace), or why there is none. */
function pickFace(found: AnalyzedFace[], size: { width: number; height: number }, policy: FacePolicy): AnalyzedFace | string {
  const wrapped = found.map((f) => ({ detection: { box: f.box }, face: f }));
  const pick = chooseFace(wrapped as unknown as Parameters<typeof chooseFace>[0], size, policy);
  return typeof pick === 'string' ? pick : (pick as unknown as (typeof wrapped)[number]).face;
}

/** Analyses each image; returns the per-image results and the embeddings of the accepted faces. */
export async function enrolImages(faces: FaceService, images: UploadedImage[], policy: FacePolicy, maxBytes: number): Promise<{ results: ImageResult[]; embeddings: Float32Array[] }> {
  const results: ImageResult[] = [];
  const embeddings: Float32Array[] = [];
  for (const img of images) {
    const base = { field: img.field, filename: img.filename, faces: 0, accepted: false };
    if (img.tooLarge) {
      results.push({ ...base, reason: 'too-large', message: `${img.field} "${img.filename}": larger than the limit of ${maxBytes} bytes` });
      continue;
    }
    let chosen: AnalyzedFace | undefined;
    let why: string | undefined;
    let analysis;
    try {
      analysis = await faces.analyze(img.data, `${img.field} "${img.filename}"`, (found, size) => {
        const pick = pickFace(found, size, policy);
        if (typeof pick === 'string') {
          why = pick;
          return [];
        }
        chosen = pick;
        return pick.gate === null ? [pick] : [];
      });
    } catch (e) {
      if (e instanceof ImageInputError) {
        results.push({ ...base, reason: imageErrorReason(e), message: e.message });
        continue;
      }
      throw e;
    }
    const r: ImageResult = { ...base, faces: analysis.faces.length };
    if (!chosen) {
      r.reason = analysis.faces.length === 0 ? 'no-face' : 'several-faces';
      r.message = `${img.field} "${img.filename}": ${why ?? 'no face found'}${r.reason === 'several-faces' ? ` (face policy "${policy}"; upload a photo of the person alone)` : ''}`;
    } else {
      r.box = chosen.box;
      r.quality = qualityView(chosen.quality);
      if (chosen.gate !== null || !chosen.embedding) {
        r.reason = gateReason(chosen.gate ?? '');
        r.message = `${img.field} "${img.filename}": ${chosen.gate}`;
      } else {
        r.accepted = true;
        embeddings.push(chosen.embedding);
      }
    }
    results.push(r);
  }
  return { results, embeddings };
}

