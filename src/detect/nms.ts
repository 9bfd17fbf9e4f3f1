/**
 * Box utilities and non-maximum suppression.
 *
 * Hand-written (rather than cv.dnn.NMSBoxes) because MTCNN needs two overlap measures that
 * NMSBoxes does not offer: IoU ("Union") and intersection over the smaller area ("Min"), and
 * MTCNN's legacy pixel-inclusive area convention (width = x2 - x1 + 1). Pure functions.
 */
import type { Box, Point } from './types';

/** A box as corners; x2/y2 are exclusive unless an NMS call says `inclusive`. */
export interface Corners {
  x1: number;
  y1: number;
  x2: number;
  y2: number;
}

/** "union": intersection over union; "min": intersection over the smaller of the two areas. */
export type OverlapMode = 'union' | 'min';

export interface OverlapOptions {
  mode?: OverlapMode;
  /**
   * MTCNN convention: corners are inclusive pixel indices, so a box spans x2 - x1 + 1 pixels.
   * Default false (x2 is exclusive, width = x2 - x1).
   */
  inclusive?: boolean;
}

export function toCorners(b: Box): Corners {
  return { x1: b.x, y1: b.y, x2: b.x + b.width, y2: b.y + b.height };
}

export function toBox(c: Corners): Box {
  return { x: c.x1, y: c.y1, width: c.x2 - c.x1, height: c.y2 - c.y1 };
}

export function area(c: Corners, inclusive = false): number {
  const e = inclusive ? 1 : 0;
  return Math.max(0, c.x2 - c.x1 + e) * Math.max(0, c.y2 - c.y1 + e);
}

/** Overlap of two boxes in 0..1 under the given mode (0 when either box is empty). */
export function overlap(a: Corners, b: Corners, options: OverlapOptions = {}): number {
  const e = options.inclusive ? 1 : 0;
  const w = Math.max(0, Math.min(a.x2, b.x2) - Math.max(a.x1, b.x1) + e);
  const h = Math.max(0, Math.min(a.y2, b.y2) - Math.max(a.y1, b.y1) + e);
  const inter = w * h;
  if (inter <= 0) return 0;
  const aa = area(a, options.inclusive);
  const ab = area(b, options.inclusive);
  const denom = options.mode === 'min' ? Math.min(aa, ab) : aa + ab - inter;
  return denom > 0 ? inter / denom : 0;
}

/** Intersection over union of two `Box`es (x, y, width, height). */
export function iou(a: Box, b: Box): number {
  return overlap(toCorners(a), toCorners(b));
}

/**
 * Greedy NMS: visits boxes by descending score (ties: lower index first), keeps a box and drops
 * every remaining box whose overlap with it is greater than `threshold`.
 * Returns the kept indices into `boxes`, best first.
 *
 * Same rule as `overlap()`, on flat typed arrays: MTCNN's P-Net stage calls this on hundreds of
 * boxes per pyramid level, so the quadratic inner loop is kept free of object access.
 */
export function nms(
  boxes: readonly Corners[],
  scores: ArrayLike<number>,
  threshold: number,
  options: OverlapOptions = {},
): number[] {
  if (boxes.length !== scores.length) {
    throw new RangeError(`nms: ${boxes.length} boxes but ${scores.length} scores; expected one score per box`);
  }
  const n = boxes.length;
  const e = options.inclusive ? 1 : 0;
  const byMin = options.mode === 'min';
  const bx1 = new Float64Array(n);
  const by1 = new Float64Array(n);
  const bx2 = new Float64Array(n);
  const by2 = new Float64Array(n);
  const areas = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const b = boxes[i];
    bx1[i] = b.x1;
    by1[i] = b.y1;
    bx2[i] = b.x2;
    by2[i] = b.y2;
    areas[i] = area(b, options.inclusive);
  }
  const order = Array.from(boxes.keys()).sort((i, j) => scores[j] - scores[i] || i - j);
  const suppressed = new Uint8Array(n);
  const keep: number[] = [];
  for (let oi = 0; oi < n; oi++) {
    const i = order[oi];
    if (suppressed[i]) continue;
    keep.push(i);
    const x1 = bx1[i];
    const y1 = by1[i];
    const x2 = bx2[i];
    const y2 = by2[i];
    const ai = areas[i];
    for (let oj = oi + 1; oj < n; oj++) {
      const j = order[oj];
      if (suppressed[j]) continue;
      const w = Math.max(0, Math.min(x2, bx2[j]) - Math.max(x1, bx1[j]) + e);
      const h = Math.max(0, Math.min(y2, by2[j]) - Math.max(y1, by1[j]) + e);
      const inter = w * h;
      let ov = 0;
      if (inter > 0) {
        const denom = byMin ? Math.min(ai, areas[j]) : ai + areas[j] - inter;
        ov = denom > 0 ? inter / denom : 0;
      }
      if (ov > threshold) suppressed[j] = 1;
    }
  }
  return keep;
}

/** Scales a box about the origin (e.g. analysis-image coordinates back to frame coordinates). */
export function scaleBox(b: Box, sx: number, sy = sx): Box {
  return { x: b.x * sx, y: b.y * sy, width: b.width * sx, height: b.height * sy };
}

export function scalePoint(p: Point, sx: number, sy = sx): Point {
  return { x: p.x * sx, y: p.y * sy };
}

/** Intersection of a box with the image rectangle [0,width) x [0,height); may be empty (width or height 0). */
export function clipBox(b: Box, width: number, height: number): Box {
  const x1 = Math.min(Math.max(b.x, 0), width);
  const y1 = Math.min(Math.max(b.y, 0), height);
  const x2 = Math.min(Math.max(b.x + b.width, 0), width);
  const y2 = Math.min(Math.max(b.y + b.height, 0), height);
  return { x: x1, y: y1, width: x2 - x1, height: y2 - y1 };
}

/**
 * MTCNN's "rerec": grows a box to the square of its longer side, keeping its centre.
 * (Works on corners as the reference code does: side = max(x2 - x1, y2 - y1).)
 */
export function squareCorners(c: Corners): Corners {
  const w = c.x2 - c.x1;
  const h = c.y2 - c.y1;
  const side = Math.max(w, h);
  const x1 = c.x1 + w * 0.5 - side * 0.5;
  const y1 = c.y1 + h * 0.5 - side * 0.5;
  return { x1, y1, x2: x1 + side, y2: y1 + side };
}
