/**
 * Enrolment from a folder: `<dir>/<identity>/*` holds images and/or video clips of one person; an optional
 * `<dir>/<identity>/not/*` holds negative examples ("this face is not <identity>"). Every item gets a result
 * (accepted, or the reason it was not), so a user can fix the bad ones.
 */
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { analyzeFrame } from '../detect/analyze';
import type { FaceDetector } from '../detect/detector';
import { qualityGate, type QualityThresholds } from '../detect/quality';
import type { AlignedFace } from '../detect/types';
import type { Embedder } from '../embed/embedder';
import { extensionOf, IMAGE_EXTENSIONS } from '../image/header';
import { CameraSource, type TimedFrame } from '../ingest/camera-source';
import { chooseFace, embedImages, type FacePolicy } from './images';

export const VIDEO_EXTENSIONS = new Set(['.mp4', '.mkv', '.mov', '.avi', '.webm', '.m4v', '.ts']);
export const NEGATIVES_FOLDER = 'not';

export interface ItemResult {
  identity: string;
  file: string;
  negative: boolean;
  /** Faces accepted from this item (images: 0 or 1; videos: the best frames). */
  accepted: number;
  faces: number;
  reason?: string;
}

export interface IdentityEnrolment {
  name: string;
  embeddings: Float32Array[];
  negatives: Float32Array[];
  items: ItemResult[];
}

export interface EnrolOptions {
  detector: FaceDetector;
  embedder: Embedder;
  /** 'single' (default): an image with several faces is rejected; 'largest': the largest face is used. */
  policy?: Exclude<FacePolicy, 'central'>;
  quality?: Partial<QualityThresholds>;
  /** Frames sampled per second of video (default 8) and best faces kept per clip (default 10). */
  videoFps?: number;
  facesPerVideo?: number;
  onItem?: (r: ItemResult) => void;
  onProgress?: (done: number, total: number) => void;
}

interface Entry {
  identity: string;
  file: string;
  negative: boolean;
  kind: 'image' | 'video';
}

async function listEntries(dir: string): Promise<{ entries: Entry[]; skipped: string[] }> {
  const entries: Entry[] = [];
  const skipped: string[] = [];
  const st = await stat(dir).catch(() => undefined);
  if (!st?.isDirectory()) throw new Error(`--gallery ${dir} is not a directory; expected <dir>/<identity>/<images or videos>`);
  for (const identity of (await readdir(dir)).sort()) {
    const idDir = path.join(dir, identity);
    if (!(await stat(idDir)).isDirectory()) {
      skipped.push(`${idDir}: not an identity folder (expected ${dir}/<identity>/<files>)`);
      continue;
    }
    const add = async (folder: string, negative: boolean) => {
      for (const name of (await readdir(folder)).sort()) {
        const file = path.join(folder, name);
        const ext = extensionOf(name);
        if (!negative && name === NEGATIVES_FOLDER && (await stat(file)).isDirectory()) continue;
        if (ext in IMAGE_EXTENSIONS) entries.push({ identity, file, negative, kind: 'image' });
        else if (VIDEO_EXTENSIONS.has(ext)) entries.push({ identity, file, negative, kind: 'video' });
        else skipped.push(`${file}: not an image or video by its extension`);
      }
    };
    await add(idDir, false);
    const neg = path.join(idDir, NEGATIVES_FOLDER);
    if ((await stat(neg).catch(() => undefined))?.isDirectory()) await add(neg, true);
  }
  return { entries, skipped };
}

/** Best faces of a clip: frames sampled at `fps`, one face per frame (policy), quality-gated, top `keep` by score. */
export async function facesFromVideo(file: string, options: EnrolOptions): Promise<{ faces: AlignedFace[]; frames: number; reason?: string }> {
  // Every sampled frame is analysed (a clip is not a live camera: no newest-frame dropping). Decoding runs ahead
  // of analysis, so frames wait in a list, bounded by the clip length x fps (capped below).
  const source = new CameraSource({ name: 'enrol', url: file, fps: options.videoFps ?? 8, maxWidth: 1280, realtime: false, playOnce: true });
  const queue: TimedFrame[] = [];
  let ended = false;
  let wake: (() => void) | undefined;
  const MAX_FRAMES = 2000;
  source.on('frame', (f) => {
    if (queue.length + frames < MAX_FRAMES) queue.push(f);
    wake?.();
  });
  source.on('ended', () => {
    ended = true;
    wake?.();
  });
  source.on('offline', () => {
    ended = true;
    wake?.();
  });
  const kept: AlignedFace[] = [];
  let frames = 0;
  let lastReason: string | undefined;
  source.start();
  try {
    for (;;) {
      const frame = queue.shift();
      if (!frame) {
        if (ended) break;
        await new Promise<void>((r) => (wake = r));
        wake = undefined;
        continue;
      }
      frames += 1;
      const faces = await analyzeFrame(options.detector, frame, options.embedder.descriptor);
      const chosen = chooseFace(faces, frame, options.policy ?? 'single');
      if (typeof chosen === 'string') {
        lastReason = chosen;
        continue;
      }
      const gate = qualityGate(chosen.quality, options.quality);
      if (gate) {
        lastReason = gate;
        continue;
      }
      kept.push(chosen);
    }
  } finally {
    await source.stop();
  }
  if (frames === 0) return { faces: [], frames, reason: source.stats.lastError ?? 'no frame could be decoded' };
  kept.sort((a, b) => b.quality.score - a.quality.score);
  const faces = kept.slice(0, options.facesPerVideo ?? 10);
  return { faces, frames, reason: faces.length ? undefined : `no usable face in ${frames} sampled frames (last: ${lastReason})` };
}

export async function enrolFolder(dir: string, options: EnrolOptions): Promise<{ identities: IdentityEnrolment[]; skipped: string[] }> {
  const { entries, skipped } = await listEntries(dir);
  const byId = new Map<string, IdentityEnrolment>();
  const idOf = (name: string) => {
    let e = byId.get(name);
    if (!e) byId.set(name, (e = { name, embeddings: [], negatives: [], items: [] }));
    return e;
  };
  let done = 0;
  const report = (r: ItemResult) => {
    idOf(r.identity).items.push(r);
    options.onItem?.(r);
    options.onProgress?.(++done, entries.length);
  };
  for (const e of entries) {
    const target = (v: Float32Array[]) => (e.negative ? idOf(e.identity).negatives : idOf(e.identity).embeddings).push(...v);
    if (e.kind === 'video') {
      try {
        const { faces, frames, reason } = await facesFromVideo(e.file, options);
        const embs = faces.length ? await options.embedder.embed(faces.map((f) => f.crop)) : [];
        target(embs);
        report({ identity: e.identity, file: e.file, negative: e.negative, accepted: embs.length, faces: frames, reason });
      } catch (err) {
        report({ identity: e.identity, file: e.file, negative: e.negative, accepted: 0, faces: 0, reason: (err as Error).message });
      }
      continue;
    }
    const [r] = await embedImages([e.file], { detector: options.detector, embedder: options.embedder, policy: options.policy ?? 'single' });
    let reason = r.error?.message;
    if (r.face && r.embedding) {
      const gate = qualityGate(r.face.quality, options.quality);
      if (gate) reason = `${e.file}: ${gate}`;
      else target([r.embedding]);
    }
    report({ identity: e.identity, file: e.file, negative: e.negative, accepted: reason ? 0 : 1, faces: r.faces, reason });
  }
  return { identities: [...byId.values()], skipped };
}
