/**
 * face-api's tiny face detector (a Tiny-YOLOv2 with separable convolutions) followed by its 68-point landmark
 * net, both converted to ONNX at set-up from the npm package's TF.js weights (src/models/convert/), run with
 * onnxruntime. Family "tiny-yolo" in the model descriptors; files "detector" and "landmarks".
 *
 * Detection (face-api TinyYolov2Base.extractBoxes, ported): the BGR analysis image, padded with black at the
 * bottom/right to multiples of 32, gives a grid of 32 px cells with 5 anchors each; a cell's anchor is a face
 * with score sigmoid(objectness), centre ((col, row) + sigmoid(tx, ty)) * 32 and size exp(tw, th) * anchor * 32;
 * kept when score >= scoreThreshold, then IoU NMS. Unlike face-api, the image is not squashed into a square of
 * `inputSize`: the network is fully convolutional and runs on the analysis image as it is.
 *
 * Landmarks: each box, squared around its centre (side = its longer edge, as face-api pads it), is warped to
 * 112x112 (black outside the image) and all faces go through the landmark net in one batch; its 68 points (units
 * of the square) give the five points alignment uses: the mean of each eye's six points, the nose tip (30) and
 * the mouth corners (48, 54), in the Landmarks5 order (image-left eye first). face-api outputs boxes only, so
 * the landmark net is what makes this detector usable for alignment.
 */
import { z } from 'zod';
import type * as CV from '@u4/opencv4nodejs';
import { cv } from '../util/cv';
import { parseFamilyOptions } from './family-options';
import { createNetRunner, type DetectorRuntime, type NetRunner, type OrtWorker, type Tensor } from './net-runner';
import { Corners, nms } from './nms';
import type { DetectHint } from './detector';
import type { FaceDetection, Landmarks5, Point } from './types';
import { packYunetInput, padToDivisor } from './yunet';

type Mat = CV.Mat;

export const TinyYoloOptionsSchema = z.strictObject({
  scoreThreshold: z.number().min(0).max(1).default(0.5),
  nmsThreshold: z.number().min(0).max(1).default(0.4),
  /** Anchor sizes (width, height) in cells of 32 px. */
  anchors: z.array(z.tuple([z.number().positive(), z.number().positive()])).min(1),
  /** Faces whose box is smaller (min side) than this, in pixels of the image given to the detector, are dropped. */
  minFaceSize: z.number().min(0).default(0),
  /** At most this many faces (best first) get landmarks; the rest are dropped. */
  maxFaces: z.number().int().positive().default(64),
});
export type TinyYoloOptions = z.infer<typeof TinyYoloOptionsSchema>;

export function parseTinyYoloOptions(raw: Record<string, unknown>, overrides: Partial<TinyYoloOptions> = {}): TinyYoloOptions {
  return parseFamilyOptions(TinyYoloOptionsSchema, 'tiny-yolo detector', raw, overrides);
}

export const TINY_YOLO_CELL = 32;
export const LANDMARK_INPUT = 112;

const sigmoid = (v: number) => 1 / (1 + Math.exp(-v));

/**
 * Decodes the raw grid [1, anchors*5, rows, cols] (per anchor: tx, ty, tw, th, objectness) into boxes in input
 * pixels, before NMS. Pure.
 */
export function decodeTinyYolo(grid: Float32Array, rows: number, cols: number, anchors: readonly (readonly [number, number])[], scoreThreshold: number) {
  const plane = rows * cols;
  if (grid.length !== anchors.length * 5 * plane) {
    throw new Error(`tiny-yolo output holds ${grid.length} values; expected ${anchors.length} anchors x 5 x ${rows}x${cols}`);
  }
  const out: { box: FaceDetection['box']; score: number }[] = [];
  for (let a = 0; a < anchors.length; a++) {
    const base = a * 5 * plane;
    for (let p = 0; p < plane; p++) {
      const score = sigmoid(grid[base + 4 * plane + p]);
      if (!(score >= scoreThreshold)) continue;
      const row = Math.floor(p / cols);
      const col = p - row * cols;
      const cx = (col + sigmoid(grid[base + p])) * TINY_YOLO_CELL;
      const cy = (row + sigmoid(grid[base + plane + p])) * TINY_YOLO_CELL;
      const w = Math.exp(grid[base + 2 * plane + p]) * anchors[a][0] * TINY_YOLO_CELL;
      const h = Math.exp(grid[base + 3 * plane + p]) * anchors[a][1] * TINY_YOLO_CELL;
      out.push({ box: { x: cx - w / 2, y: cy - h / 2, width: w, height: h }, score });
    }
  }
  return out;
}

/** The square (x, y, side) the landmark net sees for a box: centred on it, side = its longer edge. */
export function landmarkSquare(box: FaceDetection['box']): { x: number; y: number; side: number } {
  const side = Math.max(box.width, box.height);
  return { x: box.x + box.width / 2 - side / 2, y: box.y + box.height / 2 - side / 2, side };
}

/** Five alignment points from 68 (x, y) in units of the square. Pure. */
export function fivePointsFrom68(points: ArrayLike<number>, offset: number, square: { x: number; y: number; side: number }): Landmarks5 {
  const at = (i: number): Point => ({ x: square.x + points[offset + 2 * i] * square.side, y: square.y + points[offset + 2 * i + 1] * square.side });
  const mean = (from: number): Point => {
    let x = 0;
    let y = 0;
    for (let i = from; i < from + 6; i++) {
      const p = at(i);
      x += p.x;
      y += p.y;
    }
    return { x: x / 6, y: y / 6 };
  };
  return [mean(36), mean(42), at(30), at(48), at(54)];
}

/** The networks plus their post-processing. Not re-entrant on its own; detector.ts serialises calls. */
export class TinyYoloNetwork {
  private readonly detector: NetRunner;
  private readonly landmarks: NetRunner;
  private input: Tensor = { data: new Float32Array(0), dims: [1, 3, 0, 0] };

  constructor(files: { detector: string; landmarks: string }, readonly options: TinyYoloOptions, runtime: DetectorRuntime = 'onnxruntime', worker?: OrtWorker) {
    this.detector = createNetRunner(runtime, files.detector, { worker });
    this.landmarks = createNetRunner(runtime, files.landmarks, { worker });
  }

  async ready(): Promise<void> {
    await Promise.all([this.detector.ready(), this.landmarks.ready()]);
  }

  release(): void {
    this.detector.release();
    this.landmarks.release();
  }

  async warmUp(): Promise<void> {
    await this.detector.run({ data: new Float32Array(3 * 64 * 64), dims: [1, 3, 64, 64] }, ['grid']);
    await this.landmarks.run({ data: new Float32Array(3 * LANDMARK_INPUT * LANDMARK_INPUT), dims: [1, 3, LANDMARK_INPUT, LANDMARK_INPUT] }, ['landmarks']);
  }

  /** Detects faces in a BGR CV_8UC3 image; coordinates are in that image's pixels. */
  async detect(bgr: Mat, hint: DetectHint = {}): Promise<FaceDetection[]> {
    const pw = padToDivisor(bgr.cols, TINY_YOLO_CELL);
    const ph = padToDivisor(bgr.rows, TINY_YOLO_CELL);
    if (this.input.dims[2] !== ph || this.input.dims[3] !== pw) this.input = { data: new Float32Array(3 * pw * ph), dims: [1, 3, ph, pw] };
    packYunetInput(bgr, pw, ph, this.input.data);
    const [grid] = await this.detector.run(this.input, ['grid']);
    const [, , rows, cols] = grid.dims;
    const o = this.options;
    const min = Math.max(o.minFaceSize, hint.minFaceSize ?? 0);
    const boxes = decodeTinyYolo(grid.data, rows, cols, o.anchors, o.scoreThreshold).filter((b) => Math.min(b.box.width, b.box.height) >= min);
    const corners: Corners[] = boxes.map((b) => ({ x1: b.box.x, y1: b.box.y, x2: b.box.x + b.box.width, y2: b.box.y + b.box.height }));
    const kept = nms(corners, boxes.map((b) => b.score), o.nmsThreshold, { mode: 'union' })
      .map((i) => boxes[i])
      .sort((a, b) => b.score - a.score)
      .slice(0, o.maxFaces);
    if (kept.length === 0) return [];
    const squares = kept.map((k) => landmarkSquare(k.box));
    const [points] = await this.landmarks.run(this.landmarkBatch(bgr, squares), ['landmarks']);
    return kept.map((k, i) => ({ box: k.box, score: k.score, landmarks: fivePointsFrom68(points.data, i * 136, squares[i]) }));
  }

  /** Each square warped to 112x112 (black outside the image), as one NCHW BGR 0..255 batch. */
  private landmarkBatch(bgr: Mat, squares: { x: number; y: number; side: number }[]): Tensor {
    const c = cv();
    const n = LANDMARK_INPUT;
    const plane = n * n;
    const data = new Float32Array(squares.length * 3 * plane);
    squares.forEach((sq, i) => {
      const s = n / sq.side;
      // Continuous coordinates: square corner -> 0, far corner -> 112 (cv pixel centres at +0.5 on both sides).
      const m = new c.Mat(
        [
          [s, 0, -sq.x * s + 0.5 * s - 0.5],
          [0, s, -sq.y * s + 0.5 * s - 0.5],
        ],
        c.CV_64F,
      );
      const crop = bgr.warpAffine(m, new c.Size(n, n), c.INTER_LINEAR, c.BORDER_CONSTANT, new c.Vec3(0, 0, 0));
      crop.splitChannels().forEach((ch, k) => data.set(ch.getData(), (i * 3 + k) * plane));
    });
    return { data, dims: [squares.length, 3, n, n] };
  }
}
