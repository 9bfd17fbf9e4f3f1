/**
 * YuNet 2022mar (libfacedetection.train yunet_120x160.onnx) run with onnxruntime (or OpenCV dnn, as
 * the descriptor's runtime says; see net-runner.ts). The installed OpenCV binding has no
 * cv.FaceDetectorYN, so this ports the post-processing of OpenCV 4.6's
 * modules/objdetect/src/face_detect.cpp (the version for this model generation):
 *
 * - input: the BGR 0..255 image as an NCHW blob, no scaling; we pad it with black at the
 *   bottom/right to a multiple of 32 (at least 64) so every feature map divides evenly and none
 *   is empty (the padding does not move coordinates). The file declares a fixed 120x160 input but
 *   computes every shape at run time; its declared dims are made symbolic for onnxruntime;
 * - priors: feature maps of strides 8/16/32/64 with min sizes {10,16,24}, {32,48}, {64,96},
 *   {128,192,256}, in (row, column, size) order, normalised by the input size;
 * - decode with variances (0.1, 0.2): centre = prior + loc * 0.1 * prior size; width =
 *   prior w * exp(loc * 0.1), height = prior h * exp(loc * 0.2); landmarks like the centre;
 * - score = sqrt(cls * clamp(iou, 0, 1)), kept when >= scoreThreshold, at most topK by score,
 *   then NMS on IoU > nmsThreshold. (OpenCV runs NMS on integer-truncated boxes; we use the
 *   float boxes.)
 *
 * Landmark order of the model: the subject's right eye (image left) first, then left eye, nose,
 * right mouth corner (image left), left mouth corner, which is the Landmarks5 order.
 */
import { z } from 'zod';
import type * as CV from '@u4/opencv4nodejs';
import { parseFamilyOptions } from './family-options';
import { createNetRunner, type DetectorRuntime, type NetRunner, type OrtWorker, type Tensor } from './net-runner';
import { Corners, nms } from './nms';
import type { DetectHint } from './detector';
import type { FaceDetection, Landmarks5 } from './types';

type Mat = CV.Mat;

export const YunetOptionsSchema = z.strictObject({
  scoreThreshold: z.number().min(0).max(1).default(0.6),
  nmsThreshold: z.number().min(0).max(1).default(0.3),
  topK: z.number().int().positive().default(5000),
  /** Faces whose box is smaller (min side) than this, in pixels of the image given to the detector, are dropped. */
  minFaceSize: z.number().min(0).default(0),
});
export type YunetOptions = z.infer<typeof YunetOptionsSchema>;

export function parseYunetOptions(raw: Record<string, unknown>, overrides: Partial<YunetOptions> = {}): YunetOptions {
  return parseFamilyOptions(YunetOptionsSchema, 'YuNet', raw, overrides);
}

/** Input sizes are padded up to a multiple of this. */
export const YUNET_DIVISOR = 32;

/** The deepest feature map has stride 64: smaller inputs make OpenCV dnn fail on an empty blob. */
export const YUNET_MIN_INPUT = 64;

/** Padded input side: a multiple of 32, at least 64. */
export function padToDivisor(n: number, divisor = YUNET_DIVISOR): number {
  return Math.max(YUNET_MIN_INPUT, Math.ceil(n / divisor) * divisor);
}

const MIN_SIZES = [
  [10, 16, 24],
  [32, 48],
  [64, 96],
  [128, 192, 256],
];
const STEPS = [8, 16, 32, 64];

/**
 * Priors for an input of width x height (OpenCV 4.6 generatePriors), as a flat array of
 * (cx, cy, w, h) normalised to the input size.
 */
export function yunetPriors(width: number, height: number): Float32Array {
  const fm2w = Math.floor(Math.floor((width + 1) / 2) / 2);
  const fm2h = Math.floor(Math.floor((height + 1) / 2) / 2);
  const maps: [number, number][] = [];
  let w = fm2w;
  let h = fm2h;
  for (let i = 0; i < 4; i++) {
    w = Math.floor(w / 2);
    h = Math.floor(h / 2);
    maps.push([w, h]);
  }
  const out: number[] = [];
  maps.forEach(([fw, fh], i) => {
    for (let r = 0; r < fh; r++) {
      for (let col = 0; col < fw; col++) {
        for (const ms of MIN_SIZES[i]) {
          out.push(((col + 0.5) * STEPS[i]) / width, ((r + 0.5) * STEPS[i]) / height, ms / width, ms / height);
        }
      }
    }
  });
  return Float32Array.from(out);
}

export interface YunetOutputs {
  /** [n, 14]: box deltas (4) then 5 landmark deltas (x, y). */
  loc: Float32Array;
  /** [n, 2]: background / face probabilities. */
  conf: Float32Array;
  /** [n, 1]: predicted IoU. */
  iou: Float32Array;
}

/** Decodes raw YuNet outputs into detections in input pixels (before NMS). Pure. */
export function decodeYunet(
  out: YunetOutputs,
  priors: Float32Array,
  width: number,
  height: number,
  scoreThreshold: number,
): FaceDetection[] {
  const n = priors.length / 4;
  if (out.conf.length !== n * 2 || out.loc.length !== n * 14 || out.iou.length !== n) {
    throw new Error(
      `YuNet output sizes (loc ${out.loc.length}, conf ${out.conf.length}, iou ${out.iou.length}) do not match ` +
        `${n} priors for a ${width}x${height} input; is this the 2022mar model?`,
    );
  }
  const faces: FaceDetection[] = [];
  for (let i = 0; i < n; i++) {
    const cls = out.conf[i * 2 + 1];
    const iouScore = Math.min(1, Math.max(0, out.iou[i]));
    const score = Math.sqrt(Math.max(0, cls) * iouScore);
    if (!(score >= scoreThreshold)) continue;
    const px = priors[i * 4];
    const py = priors[i * 4 + 1];
    const pw = priors[i * 4 + 2];
    const ph = priors[i * 4 + 3];
    const l = i * 14;
    const cx = (px + out.loc[l] * 0.1 * pw) * width;
    const cy = (py + out.loc[l + 1] * 0.1 * ph) * height;
    const w = pw * Math.exp(out.loc[l + 2] * 0.1) * width;
    const h = ph * Math.exp(out.loc[l + 3] * 0.2) * height;
    const pt = (k: number) => ({
      x: (px + out.loc[l + 4 + 2 * k] * 0.1 * pw) * width,
      y: (py + out.loc[l + 5 + 2 * k] * 0.1 * ph) * height,
    });
    const landmarks: Landmarks5 = [pt(0), pt(1), pt(2), pt(3), pt(4)];
    faces.push({ box: { x: cx - w / 2, y: cy - h / 2, width: w, height: h }, score, landmarks });
  }
  return faces;
}

/** Keeps the best `topK` faces by score, then applies IoU NMS. Pure. */
export function suppressYunet(faces: FaceDetection[], nmsThreshold: number, topK: number): FaceDetection[] {
  const top = [...faces].sort((a, b) => b.score - a.score).slice(0, topK);
  const corners: Corners[] = top.map((f) => ({
    x1: f.box.x,
    y1: f.box.y,
    x2: f.box.x + f.box.width,
    y2: f.box.y + f.box.height,
  }));
  return nms(corners, top.map((f) => f.score), nmsThreshold, { mode: 'union' }).map((i) => top[i]);
}

/**
 * The NCHW float32 input of a BGR CV_8UC3 image padded with black to pw x ph, written into `out`
 * (length 3 * pw * ph; its padding must already be 0, as in a new or reused buffer of this size).
 * OpenCV's channel split plus V8's native uint8 -> float32 typed-array copy: 0.3 ms for 640x360
 * when the width needs no padding, against 1.7 ms for a JavaScript loop over the pixels.
 */
export function packYunetInput(bgr: Mat, pw: number, ph: number, out: Float32Array): Float32Array {
  const width = bgr.cols;
  const height = bgr.rows;
  const plane = pw * ph;
  if (out.length !== 3 * plane || pw < width || ph < height || bgr.channels !== 3) {
    throw new RangeError(`packYunetInput: ${width}x${height}x${bgr.channels} into 3x${ph}x${pw} (buffer ${out.length})`);
  }
  bgr.splitChannels().forEach((channel, k) => {
    const d = channel.getData();
    if (width === pw) {
      out.set(d, k * plane);
    } else {
      for (let y = 0; y < height; y++) out.set(d.subarray(y * width, (y + 1) * width), k * plane + y * pw);
    }
  });
  return out;
}

/** The graph's declared input/output dims that depend on the input size (see onnx-dims.ts). */
export const YUNET_SYMBOLIC_DIMS = {
  input: [null, null, 'height', 'width'],
  loc: ['priors', null],
  conf: ['priors', null],
  iou: ['priors', null],
} as const;

/** The network plus its post-processing. Not re-entrant on its own; detector.ts serialises calls. */
export class YunetNetwork {
  private readonly net: NetRunner;
  private priorsFor: { width: number; height: number; priors: Float32Array } = {
    width: 0,
    height: 0,
    priors: new Float32Array(0),
  };
  /** The input blob, reused while the padded size stays the same (so its padding stays 0). */
  private input: Tensor = { data: new Float32Array(0), dims: [1, 3, 0, 0] };

  /** `worker`: run the network there (onnxruntime only; see net-runner.ts). */
  constructor(modelPath: string, readonly options: YunetOptions, runtime: DetectorRuntime = 'onnxruntime', worker?: OrtWorker) {
    if (!modelPath) throw new Error('YuNet needs a model file path');
    this.net = createNetRunner(runtime, modelPath, { symbolicDims: YUNET_SYMBOLIC_DIMS, worker });
  }

  ready(): Promise<void> {
    return this.net.ready();
  }

  async warmUp(): Promise<void> {
    await this.net.run({ data: new Float32Array(3 * YUNET_MIN_INPUT * YUNET_MIN_INPUT), dims: [1, 3, YUNET_MIN_INPUT, YUNET_MIN_INPUT] }, ['loc', 'conf', 'iou']);
  }

  release(): void {
    this.net.release();
  }

  private priors(width: number, height: number): Float32Array {
    if (this.priorsFor.width !== width || this.priorsFor.height !== height) {
      this.priorsFor = { width, height, priors: yunetPriors(width, height) };
    }
    return this.priorsFor.priors;
  }

  /** Detects faces in a BGR CV_8UC3 image; coordinates are in that image's pixels. */
  async detect(bgr: Mat, hint: DetectHint = {}): Promise<FaceDetection[]> {
    const pw = padToDivisor(bgr.cols);
    const ph = padToDivisor(bgr.rows);
    if (this.input.dims[2] !== ph || this.input.dims[3] !== pw || this.input.data.length !== 3 * pw * ph) {
      this.input = { data: new Float32Array(3 * pw * ph), dims: [1, 3, ph, pw] };
    }
    packYunetInput(bgr, pw, ph, this.input.data);
    const [loc, conf, iou] = await this.net.run(this.input, ['loc', 'conf', 'iou']);
    const faces = decodeYunet({ loc: loc.data, conf: conf.data, iou: iou.data }, this.priors(pw, ph), pw, ph, this.options.scoreThreshold);
    const min = Math.max(this.options.minFaceSize, hint.minFaceSize ?? 0);
    return suppressYunet(faces, this.options.nmsThreshold, this.options.topK).filter(
      (f) => Math.min(f.box.width, f.box.height) >= min,
    );
  }
}
