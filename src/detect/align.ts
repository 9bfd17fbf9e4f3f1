/**
 * Face alignment: the similarity transform (rotation, uniform scale, translation) that maps the
 * 5 detected landmarks onto an embedder's template, and the warp of the frame into the
 * embedder's input size.
 *
 * - The transform is fitted with cv.estimateAffinePartial2D over all 5 points (RANSAC with a
 *   threshold so large that every point is an inlier, then its Levenberg-Marquardt refinement:
 *   the least-squares similarity, as skimage's SimilarityTransform used by insightface).
 *   `similarityMatrix` is the same fit in closed form (pure, no OpenCV); it is the fallback and
 *   the reference the tests check the OpenCV fit against.
 * - Warp: bilinear, BORDER_CONSTANT with black (0,0,0) where the crop reaches outside the frame
 *   (as insightface's norm_crop). Only the frame region the crop needs is read. When the face is
 *   more than twice the crop's size, that region is first shrunk with INTER_AREA so the
 *   bilinear warp does not alias.
 * - Coordinates are pixel-centre based on both sides (landmark (0,0) is the centre of the first
 *   pixel), the convention of MTCNN/YuNet landmarks and of the ArcFace template.
 */
import type { EmbedderDescriptor } from '../models/descriptor';
import type { Frame } from '../image/frame';
import { cv } from '../util/cv';
import { frameMatView, Mat } from './cvmat';
import type { AlignedFace, FaceDetection, Point } from './types';

/** Row-major 2x3 affine matrix [a, b, c, d, e, f]: x' = a x + b y + c, y' = d x + e y + f. */
export type Matrix2x3 = [number, number, number, number, number, number];

export function applyMatrix(m: Matrix2x3, p: Point): Point {
  return { x: m[0] * p.x + m[1] * p.y + m[2], y: m[3] * p.x + m[4] * p.y + m[5] };
}

export function invertMatrix(m: Matrix2x3): Matrix2x3 {
  const det = m[0] * m[4] - m[1] * m[3];
  if (!Number.isFinite(det) || Math.abs(det) < 1e-12) throw new RangeError('affine matrix is singular');
  const a = m[4] / det;
  const b = -m[1] / det;
  const d = -m[3] / det;
  const e = m[0] / det;
  return [a, b, -(a * m[2] + b * m[5]), d, e, -(d * m[2] + e * m[5])];
}

/** m1 after m2 (x -> m1(m2(x))). */
export function composeMatrix(m1: Matrix2x3, m2: Matrix2x3): Matrix2x3 {
  return [
    m1[0] * m2[0] + m1[1] * m2[3],
    m1[0] * m2[1] + m1[1] * m2[4],
    m1[0] * m2[2] + m1[1] * m2[5] + m1[2],
    m1[3] * m2[0] + m1[4] * m2[3],
    m1[3] * m2[1] + m1[4] * m2[4],
    m1[3] * m2[2] + m1[4] * m2[5] + m1[5],
  ];
}

/** Scale factor of a similarity matrix. */
export function matrixScale(m: Matrix2x3): number {
  return Math.sqrt(Math.abs(m[0] * m[4] - m[1] * m[3]));
}

/**
 * Least-squares similarity (no reflection) mapping `src` onto `dst`, closed form. Pure.
 * Throws when the source points are all the same point.
 */
export function similarityMatrix(src: readonly Point[], dst: readonly Point[]): Matrix2x3 {
  if (src.length !== dst.length || src.length < 2) {
    throw new RangeError(`similarityMatrix needs >= 2 point pairs, got ${src.length} and ${dst.length}`);
  }
  const n = src.length;
  let sx = 0;
  let sy = 0;
  let dx = 0;
  let dy = 0;
  for (let i = 0; i < n; i++) {
    sx += src[i].x;
    sy += src[i].y;
    dx += dst[i].x;
    dy += dst[i].y;
  }
  sx /= n;
  sy /= n;
  dx /= n;
  dy /= n;
  let num1 = 0;
  let num2 = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    const px = src[i].x - sx;
    const py = src[i].y - sy;
    const qx = dst[i].x - dx;
    const qy = dst[i].y - dy;
    num1 += px * qx + py * qy;
    num2 += px * qy - py * qx;
    den += px * px + py * py;
  }
  if (den <= 1e-12) throw new RangeError('similarityMatrix: source points coincide');
  const a = num1 / den;
  const b = num2 / den;
  return [a, -b, dx - (a * sx - b * sy), b, a, dy - (b * sx + a * sy)];
}

function templatePoints(embedder: EmbedderDescriptor): Point[] {
  return embedder.alignment.template.map(([x, y]) => ({ x, y }));
}

/** The frame -> crop matrix for a detection, fitted by cv.estimateAffinePartial2D (see file comment). */
export function alignmentMatrix(landmarks: readonly Point[], template: readonly Point[]): Matrix2x3 {
  const c = cv();
  const from = landmarks.map((p) => new c.Point2(p.x, p.y));
  const to = template.map((p) => new c.Point2(p.x, p.y));
  try {
    const { out } = c.estimateAffinePartial2D(from, to, c.RANSAC, 1e7, 2000, 0.99, 10);
    if (!out.empty && out.rows === 2 && out.cols === 3) {
      const rows = out.getDataAsArray() as number[][];
      const m = [...rows[0], ...rows[1]] as Matrix2x3;
      if (m.every(Number.isFinite)) return m;
    }
  } catch {
    // degenerate input (e.g. coincident landmarks): fall through to the closed form, which explains itself
  }
  return similarityMatrix(landmarks, template);
}

/** Warps the face in a BGR Mat onto the embedder's template. */
export function alignFaceMat(mat: Mat, det: FaceDetection, embedder: EmbedderDescriptor): AlignedFace['crop'] {
  const c = cv();
  const { width, height } = embedder.input;
  const m = alignmentMatrix(det.landmarks, templatePoints(embedder));
  const inv = invertMatrix(m);
  const scale = matrixScale(m);
  // Frame region the crop samples: the inverse-mapped crop corners, plus a margin for the
  // bilinear taps (at least one pixel of the possibly shrunk region).
  const margin = 2 + Math.ceil(1 / Math.min(1, scale));
  const corners = [
    { x: -0.5, y: -0.5 },
    { x: width - 0.5, y: -0.5 },
    { x: -0.5, y: height - 0.5 },
    { x: width - 0.5, y: height - 0.5 },
  ].map((p) => applyMatrix(inv, p));
  const x0 = Math.max(0, Math.floor(Math.min(...corners.map((p) => p.x))) - margin);
  const y0 = Math.max(0, Math.floor(Math.min(...corners.map((p) => p.y))) - margin);
  const x1 = Math.min(mat.cols, Math.ceil(Math.max(...corners.map((p) => p.x))) + margin + 1);
  const y1 = Math.min(mat.rows, Math.ceil(Math.max(...corners.map((p) => p.y))) + margin + 1);
  if (x1 - x0 < 1 || y1 - y0 < 1) {
    return { width, height, data: new Uint8Array(width * height * 3) };
  }
  let roi = mat.getRegion(new c.Rect(x0, y0, x1 - x0, y1 - y0));
  // roi pixel -> frame pixel
  let toFrame: Matrix2x3 = [1, 0, x0, 0, 1, y0];
  if (scale < 0.5) {
    const rw = Math.max(1, Math.round((x1 - x0) * scale));
    const rh = Math.max(1, Math.round((y1 - y0) * scale));
    const fx = rw / (x1 - x0);
    const fy = rh / (y1 - y0);
    roi = roi.resize(rh, rw, 0, 0, c.INTER_AREA);
    // resized pixel q -> roi pixel: (q + 0.5) / f - 0.5 (pixel-centre convention of cv::resize)
    toFrame = composeMatrix(toFrame, [1 / fx, 0, 0.5 / fx - 0.5, 0, 1 / fy, 0.5 / fy - 0.5]);
  }
  const w = composeMatrix(m, toFrame);
  const mm = new c.Mat([w.slice(0, 3), w.slice(3, 6)], c.CV_64F);
  const out = roi.warpAffine(mm, new c.Size(width, height), c.INTER_LINEAR, c.BORDER_CONSTANT, new c.Vec3(0, 0, 0));
  return { width, height, data: new Uint8Array(out.getData()) };
}

/** Warps the detected face onto the embedder's template: a BGR uint8 crop of its input size. */
export function alignFace(frame: Frame, det: FaceDetection, embedder: EmbedderDescriptor): AlignedFace['crop'] {
  return alignFaceMat(frameMatView(frame), det, embedder); // the crop is copied out before returning
}
