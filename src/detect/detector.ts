/**
 * The face detector every stage uses: picks the MTCNN or YuNet implementation from a resolved
 * detector descriptor, runs it on a downscaled copy of large frames (the "analysis size") and maps
 * boxes and landmarks back to frame coordinates. The networks run with the runtime the descriptor
 * names, onnxruntime ones on the calling thread or a worker thread of the detector's own (DEFAULT_THREAD).
 */
import type { Frame } from '../image/frame';
import { assertFrame } from '../image/frame';
import type { ResolvedDetector } from '../models/registry';
import { cv } from '../util/cv';
import { frameMatView, Mat } from './cvmat';
import { MtcnnCascade, parseMtcnnOptions } from './mtcnn';
import { OrtWorker } from './net-runner';
import { nms, scaleBox, scalePoint, toCorners } from './nms';
import type { Box, FaceDetection, Landmarks5 } from './types';
import { parseTinyYoloOptions, TinyYoloNetwork } from './tiny-yolo';
import { parseYunetOptions, YunetNetwork } from './yunet';

export interface FaceDetector {
  readonly name: string;
  /**
   * Faces in the frame, best score first, in frame pixel coordinates. Never throws for small frames.
   * `mat`: the frame as a Mat already (a caller that needs one anyway, e.g. a frameMatView), valid for the call.
   */
  detect(frame: Frame, mat?: Mat): Promise<FaceDetection[]>;
  /**
   * Resolves once the networks are loaded (onnxruntime loads them in the background from creation;
   * detect() waits for them itself). Rejects with the load error: call it at start-up to fail early.
   */
  ready?(): Promise<void>;
  /**
   * Loads the networks and runs each once on a blank input, so that the first frame of a camera does not pay for
   * onnxruntime's first-run set-up (the first alert of a fresh process came ~0.8 s late without it). Start-up only.
   */
  warmUp?(): Promise<void>;
  /** Releases the networks (and ends their worker thread); resolves once that is done. */
  close?(): Promise<void>;
  /**
   * Faces inside the given regions of the frame only (each region analysed at the same scale as a whole frame
   * would be), best score first, in frame coordinates; a face seen by two overlapping regions is reported once.
   * What the detection schedule (schedule.ts) runs on frames between full detections.
   */
  detectIn?(frame: Frame, regions: readonly DetectRegion[], mat?: Mat): Promise<FaceDetection[]>;
}

/** A part of a frame to look for faces in (frame pixels), with the smallest face worth looking for there. */
export interface DetectRegion {
  box: Box;
  /** Smallest face searched for in this region, in frame pixels (never below the detector's own minimum). */
  minFaceSize?: number;
}

export interface DetectorOptions {
  /** Frames wider than this are downscaled to this width for detection (default 640). */
  maxWidth?: number;
  /** Frames taller than this are downscaled to this height for detection (default: maxWidth). */
  maxHeight?: number;
  /**
   * Smallest face searched for, in pixels of the analysis image (the frame after downscaling).
   * MTCNN: its pyramid's minimum face size (default from the descriptor, 20). YuNet: a filter on
   * the box's shorter side (default 0).
   */
  minFaceSize?: number;
  /** Final score threshold: MTCNN's O-Net threshold (thresholds[2]); YuNet's scoreThreshold. */
  scoreThreshold?: number;
  /**
   * Where onnxruntime networks run: 'worker', a worker thread of this detector's own, so the event loop
   * is not held for the network time; 'caller', the calling thread (each network call then holds the
   * event loop). Pre- and post-processing (OpenCV resizes, MTCNN crops, decoding) stay on the calling
   * thread either way. Default: see DEFAULT_THREAD.
   */
  thread?: 'worker' | 'caller';
}

export const DEFAULT_ANALYSIS_WIDTH = 640;

/**
 * Where each family's onnxruntime networks run by default (measured on the 2-core dev machine, 1280x720
 * frames analysed at 640):
 * - YuNet: one ~12 ms call per frame, an acceptable hold of the event loop; on the calling thread the
 *   pipeline costs ~22 ms CPU per frame against ~32 ms with a worker, where frames arriving during the
 *   network call live long enough to be promoted to V8's old space and bring a full garbage collection
 *   every ~4 frames.
 * - MTCNN: ~80 ms of network calls per frame; with a worker the event loop stays free for the alerts
 *   at the same CPU per frame: frame-to-webhook p99 713-783 ms in three runs of bench:pipeline's
 *   embedded-runtime latency part, against 1510-1568 ms in two runs on the calling thread (p50 about
 *   the same, 184-519 ms; event-loop delay max 73-117 against 123-191 ms).
 */
export const DEFAULT_THREAD: Record<'mtcnn' | 'yunet' | 'tiny-yolo', 'worker' | 'caller'> = { mtcnn: 'worker', yunet: 'caller', 'tiny-yolo': 'caller' };
/** Images up to this many pixels are resized on the calling thread (a 360x360 region: ~0.1 ms). */
const SYNC_RESIZE_MAX_PIXELS = 360 * 360;
/** Faces found by two overlapping regions of detectIn() with an IoU above this are one face. */
const REGION_OVERLAP = 0.5;
/** No detector here finds a face in fewer pixels than this (MTCNN's P-Net cell is 12 px). */
const MIN_DETECTABLE = 12;

/** Factor (<= 1) by which a width x height frame is scaled to fit maxWidth x maxHeight. */
export function analysisScale(width: number, height: number, maxWidth: number, maxHeight: number): number {
  return Math.min(1, maxWidth / width, maxHeight / height);
}

export function createDetector(resolved: ResolvedDetector, options: DetectorOptions = {}): FaceDetector {
  const d = resolved.descriptor;
  if (d.runtime !== 'opencv' && d.runtime !== 'onnxruntime') {
    throw new Error(`detector "${d.name}": runtime "${String(d.runtime)}" is not supported; expected "onnxruntime" or "opencv"`);
  }
  const maxWidth = options.maxWidth ?? DEFAULT_ANALYSIS_WIDTH;
  const maxHeight = options.maxHeight ?? maxWidth;
  if (!(maxWidth >= MIN_DETECTABLE) || !(maxHeight >= MIN_DETECTABLE)) {
    throw new RangeError(`analysis size must be at least ${MIN_DETECTABLE} px, got ${maxWidth}x${maxHeight}`);
  }
  // A worker thread of the detector's own for its onnxruntime networks (see net-runner.ts) where that is the
  // default or asked for; OpenCV dnn already runs on libuv's thread pool.
  const thread = options.thread ?? DEFAULT_THREAD[d.family];
  const worker = d.runtime === 'onnxruntime' && thread === 'worker' ? new OrtWorker() : undefined;
  let impl: MatDetector;
  switch (d.family) {
    case 'mtcnn': {
      const base = parseMtcnnOptions(d.options);
      const thresholds: [number, number, number] = [...base.thresholds];
      if (options.scoreThreshold !== undefined) thresholds[2] = options.scoreThreshold;
      const opts = parseMtcnnOptions(d.options, { minFaceSize: options.minFaceSize, thresholds });
      const paths = { pnet: need(resolved, 'pnet'), rnet: need(resolved, 'rnet'), onet: need(resolved, 'onet') };
      impl = new MtcnnCascade(paths, opts, d.runtime, worker);
      break;
    }
    case 'yunet': {
      const opts = parseYunetOptions(d.options, {
        minFaceSize: options.minFaceSize,
        scoreThreshold: options.scoreThreshold,
      });
      impl = new YunetNetwork(need(resolved, 'model'), opts, d.runtime, worker);
      break;
    }
    case 'tiny-yolo': {
      const opts = parseTinyYoloOptions(d.options, { minFaceSize: options.minFaceSize, scoreThreshold: options.scoreThreshold });
      impl = new TinyYoloNetwork({ detector: need(resolved, 'detector'), landmarks: need(resolved, 'landmarks') }, opts, d.runtime, worker);
      break;
    }
    default:
      void worker?.close();
      throw new Error(`detector "${d.name}": unknown family "${String(d.family)}"; expected mtcnn, yunet or tiny-yolo`);
  }
  return new ScaledDetector(d.name, impl, maxWidth, maxHeight, () => worker?.close());
}

/** Per-call hints to a network family. */
export interface DetectHint {
  /** Smallest face worth finding in this image, in its pixels: MTCNN starts its pyramid there; the others filter. */
  minFaceSize?: number;
  /**
   * Faces expected in this image (a region around one face seen a frame ago: 1). MTCNN then gives its last, most
   * expensive network only its best candidates (mtcnn.ts REGION_CANDIDATES_PER_FACE). Ignored by the other families.
   */
  expectedFaces?: number;
}

/** A detector network family on an image of the analysis size. */
interface MatDetector {
  detect(bgr: Mat, hint?: DetectHint): Promise<FaceDetection[]>;
  ready(): Promise<void>;
  /** Runs every network once on a blank input of a typical size. */
  warmUp(): Promise<void>;
  release(): void;
}

function need(resolved: ResolvedDetector, role: string): string {
  const p = resolved.paths[role];
  if (!p) {
    throw new Error(
      `detector "${resolved.descriptor.name}" (${resolved.descriptor.family}) needs a "${role}" file; ` +
        `the descriptor lists: ${Object.keys(resolved.paths).join(', ') || 'none'}`,
    );
  }
  return p;
}

/** Downscales to the analysis size, serialises calls (a network holds one input) and maps results back. */
class ScaledDetector implements FaceDetector {
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;
  private closing: Promise<void> | undefined;

  constructor(
    readonly name: string,
    private readonly impl: MatDetector,
    private readonly maxWidth: number,
    private readonly maxHeight: number,
    private readonly onClose: () => void | Promise<void>,
  ) {}

  detect(frame: Frame, mat?: Mat): Promise<FaceDetection[]> {
    const run = this.queue.then(() => this.run(frame, mat));
    this.queue = run.catch(() => undefined);
    return run;
  }

  ready(): Promise<void> {
    return this.impl.ready();
  }

  warmUp(): Promise<void> {
    const run = this.queue.then(async () => {
      if (this.closed) throw new Error(`detector "${this.name}" is closed`);
      await this.impl.warmUp();
    });
    this.queue = run.catch(() => undefined);
    return run;
  }

  close(): Promise<void> {
    if (this.closed) return this.closing ?? Promise.resolve();
    this.closed = true;
    // After the calls already queued (they fail with "closed" before touching the networks).
    this.closing = this.queue.then(async () => {
      this.impl.release();
      await this.onClose();
    });
    return this.closing;
  }

  detectIn(frame: Frame, regions: readonly DetectRegion[], mat?: Mat): Promise<FaceDetection[]> {
    const run = this.queue.then(() => this.runIn(frame, regions, mat));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async run(frame: Frame, frameMat?: Mat): Promise<FaceDetection[]> {
    if (this.closed) throw new Error(`detector "${this.name}" is closed`);
    assertFrame(frame);
    const s = analysisScale(frame.width, frame.height, this.maxWidth, this.maxHeight);
    const found = await this.detectScaled(frameMat ?? frameMatView(frame), s);
    return found.sort((a, b) => b.score - a.score);
  }

  private async runIn(frame: Frame, regions: readonly DetectRegion[], frameMat?: Mat): Promise<FaceDetection[]> {
    if (this.closed) throw new Error(`detector "${this.name}" is closed`);
    assertFrame(frame);
    const s = analysisScale(frame.width, frame.height, this.maxWidth, this.maxHeight);
    const mat = frameMat ?? frameMatView(frame); // used within this call only
    const c = cv();
    const all: FaceDetection[] = [];
    for (const r of regions) {
      const x0 = Math.max(0, Math.floor(r.box.x));
      const y0 = Math.max(0, Math.floor(r.box.y));
      const x1 = Math.min(frame.width, Math.ceil(r.box.x + r.box.width));
      const y1 = Math.min(frame.height, Math.ceil(r.box.y + r.box.height));
      if (x1 - x0 < 1 || y1 - y0 < 1) continue;
      const part = await this.detectScaled(mat.getRegion(new c.Rect(x0, y0, x1 - x0, y1 - y0)), s, { minFaceSize: r.minFaceSize, expectedFaces: 1 });
      for (const f of part) {
        all.push({
          box: { ...f.box, x: f.box.x + x0, y: f.box.y + y0 },
          score: f.score,
          landmarks: f.landmarks.map((p) => ({ x: p.x + x0, y: p.y + y0 })) as Landmarks5,
        });
      }
    }
    // Regions may overlap: a face found by two of them is one face.
    const keep = nms(all.map((f) => toCorners(f.box)), all.map((f) => f.score), REGION_OVERLAP, { mode: 'union' });
    return keep.map((i) => all[i]).sort((a, b) => b.score - a.score);
  }

  /**
   * The network family on `mat` scaled by s (<= 1) to the analysis size, results mapped back to `mat`'s pixels.
   * The hint's minFaceSize is in `mat` pixels here.
   */
  private async detectScaled(mat: Mat, s: number, hint?: DetectHint): Promise<FaceDetection[]> {
    const tw = Math.max(1, Math.round(mat.cols * s));
    const th = Math.max(1, Math.round(mat.rows * s));
    if (Math.min(tw, th) < MIN_DETECTABLE) return [];
    let scaled = mat;
    if (tw !== mat.cols || th !== mat.rows) {
      // A whole frame is resized on libuv's thread pool; a region (a few thousand pixels) at once, cheaper than the hop.
      scaled = mat.cols * mat.rows > SYNC_RESIZE_MAX_PIXELS ? await mat.resizeAsync(th, tw, 0, 0, cv().INTER_AREA) : mat.resize(th, tw, 0, 0, cv().INTER_AREA);
    }
    const found = await this.impl.detect(scaled, hint && { ...hint, minFaceSize: hint.minFaceSize === undefined ? undefined : hint.minFaceSize * s });
    const sx = mat.cols / tw;
    const sy = mat.rows / th;
    if (sx === 1 && sy === 1) return found;
    return found.map((f) => ({
      box: scaleBox(f.box, sx, sy),
      score: f.score,
      // Landmarks are pixel-centre positions: (p + 0.5) * s - 0.5; box edges scale directly.
      landmarks: f.landmarks.map((p) => {
        const q = scalePoint({ x: p.x + 0.5, y: p.y + 0.5 }, sx, sy);
        return { x: q.x - 0.5, y: q.y - 0.5 };
      }) as Landmarks5,
    }));
  }
}
