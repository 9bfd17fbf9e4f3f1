/**
 * Real faces for the service tests: images of ../shared/data/lfw-dev (or lfw-dev-unknown) decoded, detected
 * (mtcnn), aligned for the default embedder and, when asked, embedded by it, with the face JPEG an alert carries.
 * Kept apart from helpers.ts so that tests without faces do not load the models.
 */
import path from 'node:path';
import { readdirSync } from 'node:fs';
import { analyzeFrame } from '../../src/detect/analyze';
import { createDetector } from '../../src/detect/detector';
import type { AlignedFace } from '../../src/detect/types';
import { Embedder } from '../../src/embed/embedder';
import { decodeImageFile } from '../../src/image/decode';
import type { Frame } from '../../src/image/frame';
import { ModelRegistry } from '../../src/models/registry';
import { chooseFace } from '../../src/pipeline/images';
import { faceJpeg } from '../../src/runtime/face-jpeg';
import { sharedDir } from '../support/shared';

export const EMBEDDER_NAME = 'faceapi-resnet128';

export type FaceSet = 'lfw-dev' | 'lfw-dev-unknown';

export interface SharedFace {
  /** LFW identity folder name. */
  person: string;
  file: string;
  frame: Frame;
  face: AlignedFace;
  jpeg: Buffer;
  /** Filled by embedFaces(). */
  embedding?: Float32Array;
}

/** Identity folders of `set` (sorted), or [] without ../shared. */
export function lfwPeople(set: FaceSet = 'lfw-dev'): string[] {
  const dir = sharedDir();
  if (!dir) return [];
  return readdirSync(path.join(dir, 'data', set)).sort();
}

/**
 * Real faces: the first `perPerson` images of each person of `set` decoded, detected (mtcnn), aligned for the
 * default embedder, with the face JPEG an alert carries. Throws when an image yields no face.
 */
export async function sharedFaces(people: string[], perPerson: number, set: FaceSet = 'lfw-dev'): Promise<SharedFace[]> {
  const dir = sharedDir();
  if (!dir) throw new Error('../shared is absent');
  const registry = new ModelRegistry({});
  const descriptor = registry.embedder(EMBEDDER_NAME).descriptor;
  const detector = createDetector(registry.detector('mtcnn'), { maxWidth: 640, minFaceSize: 20 });
  const out: SharedFace[] = [];
  try {
    for (const person of people) {
      const folder = path.join(dir, 'data', set, person);
      for (const name of readdirSync(folder).filter((f) => f.endsWith('.jpg')).sort().slice(0, perPerson)) {
        const file = path.join(folder, name);
        const frame = await decodeImageFile(file);
        const faces = await analyzeFrame(detector, frame, descriptor);
        const chosen = chooseFace(faces, frame, 'central');
        if (typeof chosen === 'string') throw new Error(`${file}: ${chosen}`);
        out.push({ person, file, frame, face: chosen, jpeg: faceJpeg(frame, chosen.detection.box) });
      }
    }
  } finally {
    await detector.close?.();
  }
  return out;
}

/** Embeds the faces with the real default embedder (sets `embedding` on each); returns them. */
export async function embedFaces(faces: SharedFace[]): Promise<SharedFace[]> {
  const embedder = await Embedder.create(new ModelRegistry({}).embedder(EMBEDDER_NAME), { maxBatch: 8 });
  try {
    const out = await embedder.embed(faces.map((f) => f.face.crop));
    // Copies: the embedder's results are views on one buffer per batch.
    faces.forEach((f, i) => (f.embedding = Float32Array.from(out[i])));
  } finally {
    await embedder.close();
  }
  return faces;
}

/** sharedFaces of the first `people` persons of `set`, `perPerson` each, embedded (embedFaces). */
export async function embeddedFaces(people: number, perPerson: number, set: FaceSet = 'lfw-dev'): Promise<SharedFace[]> {
  return embedFaces(await sharedFaces(lfwPeople(set).slice(0, people), perPerson, set));
}
