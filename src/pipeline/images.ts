/**
 * Still-image path shared by `eval`, `enroll` and (later) the API: decode → detect → align → quality → embed.
 * Each file yields either an embedding of its chosen face or a per-file error; nothing here throws for bad input.
 */
import { analyzeFrame } from '../detect/analyze';
import type { FaceDetector } from '../detect/detector';
import type { AlignedFace } from '../detect/types';
import type { Embedder } from '../embed/embedder';
import { decodeImageFile } from '../image/decode';
import { ImageInputError } from '../image/errors';
import type { Frame } from '../image/frame';

export type FacePolicy = 'largest' | 'central' | 'single';

export interface ImageResult {
  file: string;
  /** Faces detected in the image (0 when none or on error). */
  faces: number;
  face?: AlignedFace;
  embedding?: Float32Array;
  error?: { code: string; message: string };
}

export interface EmbedImagesOptions {
  detector: FaceDetector;
  embedder: Embedder;
  /**
   * Which face stands for the image when there are several: 'central' (largest face weighted by closeness to the
   * centre; right for LFW-style crops), 'largest', or 'single' (several faces is an error, for enrolment).
   */
  policy?: FacePolicy;
  batchSize?: number;
  onProgress?: (done: number, total: number) => void;
}

/** Picks the face that stands for an image; exported for tests. */
export function chooseFace(faces: AlignedFace[], frame: Pick<Frame, 'width' | 'height'>, policy: FacePolicy): AlignedFace | string {
  if (faces.length === 0) return 'no face found';
  if (policy === 'single' && faces.length > 1) return `${faces.length} faces found, expected exactly one`;
  const cx = frame.width / 2;
  const cy = frame.height / 2;
  const diag = Math.hypot(frame.width, frame.height);
  let best = faces[0];
  let bestScore = -Infinity;
  for (const f of faces) {
    const b = f.detection.box;
    const area = b.width * b.height;
    let score = area;
    if (policy === 'central') {
      const d = Math.hypot(b.x + b.width / 2 - cx, b.y + b.height / 2 - cy) / diag;
      score = area * (1 - d) ** 2;
    }
    if (score > bestScore) {
      bestScore = score;
      best = f;
    }
  }
  return best;
}

export async function embedImages(files: string[], options: EmbedImagesOptions): Promise<ImageResult[]> {
  const { detector, embedder } = options;
  const policy = options.policy ?? 'central';
  const batchSize = options.batchSize ?? 32;
  const results: ImageResult[] = [];
  let pending: ImageResult[] = [];
  let done = 0;

  const flush = async () => {
    if (pending.length === 0) return;
    const batch = pending;
    pending = [];
    const embeddings = await embedder.embed(batch.map((r) => r.face!.crop));
    batch.forEach((r, i) => {
      r.embedding = embeddings[i];
    });
  };

  for (const file of files) {
    const result: ImageResult = { file, faces: 0 };
    results.push(result);
    try {
      const frame = await decodeImageFile(file);
      const faces = await analyzeFrame(detector, frame, embedder.descriptor);
      result.faces = faces.length;
      const chosen = chooseFace(faces, frame, policy);
      if (typeof chosen === 'string') {
        result.error = { code: faces.length === 0 ? 'no-face' : 'several-faces', message: `${file}: ${chosen}` };
      } else {
        result.face = chosen;
        pending.push(result);
        if (pending.length >= batchSize) await flush();
      }
    } catch (err) {
      if (err instanceof ImageInputError) result.error = { code: err.code, message: err.message };
      else result.error = { code: 'processing-failed', message: `${file}: ${(err as Error).message}` };
    }
    done += 1;
    options.onProgress?.(done, files.length);
  }
  await flush();
  return results;
}
