/**
 * Detector + embedder for the API (enrolment uploads and recognize), opened on first use and shared by all
 * requests. Uploaded images are processed in memory and never written anywhere: after the request only the
 * embeddings that were enrolled remain (and erasure removes those).
 *
 * One image is analysed at a time (a queue), so concurrent uploads cannot multiply the memory of decoded frames.
 */
import type { Config } from '../config/schema';
import { analyzeFrame } from '../detect/analyze';
import { qualityGate } from '../detect/quality';
import type { Box, FaceQuality } from '../detect/types';
import { decodeImageBufferAsync } from '../image/decode';
import { openModels, type Models } from '../cli/common';

export interface AnalyzedFace {
  box: Box;
  /** Detector confidence. */
  score: number;
  quality: FaceQuality;
  /** Why the face is not good enough to embed (the stream's quality gate), or null. */
  gate: string | null;
  /** Only for faces that passed the gate (when asked for). */
  embedding?: Float32Array;
}

export interface ImageAnalysis {
  width: number;
  height: number;
  faces: AnalyzedFace[];
}

/** Picks the faces to embed from those found in an image of this size. */
export type FaceSelector = (faces: AnalyzedFace[], size: { width: number; height: number }) => AnalyzedFace[];

export interface FaceService {
  /** The embedder's name (opens the models). */
  embedderName(): Promise<string>;
  /**
   * Decodes (within the API's byte and pixel limits), detects, aligns, gates by quality and embeds the faces that
   * `embed` selects (default: every face that passed the gate). Throws ImageInputError for a bad image.
   */
  analyze(image: Buffer, name: string, embed?: FaceSelector): Promise<ImageAnalysis>;
  close(): Promise<void>;
}

export function createFaceService(config: Config, open: (config: Config) => Promise<Models> = openModels): FaceService {
  let models: Promise<Models> | undefined;
  let queue: Promise<unknown> = Promise.resolve();
  const get = () => {
    models ??= open(config).catch((e) => {
      models = undefined;
      throw e;
    });
    return models;
  };
  const quality = { minFaceSize: config.quality.minFaceSize, minBlur: config.quality.minBlur, maxYaw: config.quality.maxYaw, maxPitch: config.quality.maxPitch };
  const limits = { maxFileBytes: config.api.maxUploadBytes, maxPixels: config.api.maxImagePixels };

  const analyzeNow = async (image: Buffer, name: string, embed?: FaceSelector): Promise<ImageAnalysis> => {
    // Decode first: a bad upload is refused without loading the models.
    const frame = await decodeImageBufferAsync(image, name, limits);
    const m = await get();
    const aligned = await analyzeFrame(m.detector, frame, m.embedder.descriptor);
    const faces: AnalyzedFace[] = aligned.map((a) => ({ box: a.detection.box, score: a.detection.score, quality: a.quality, gate: qualityGate(a.quality, quality) }));
    const chosen = embed ? embed(faces, { width: frame.width, height: frame.height }) : faces.filter((f) => f.gate === null);
    const idx = chosen.map((f) => faces.indexOf(f)).filter((i) => i >= 0);
    if (idx.length) {
      const embeddings = await m.embedder.embed(idx.map((i) => aligned[i].crop));
      idx.forEach((i, k) => (faces[i].embedding = embeddings[k]));
    }
    return { width: frame.width, height: frame.height, faces };
  };

  return {
    async embedderName() {
      return (await get()).embedder.descriptor.name;
    },
    analyze(image, name, embed) {
      const run = queue.then(() => analyzeNow(image, name, embed));
      queue = run.catch(() => undefined);
      return run;
    },
    async close() {
      const m = models;
      models = undefined;
      if (m) await (await m.catch(() => undefined))?.close();
    },
  };
}
