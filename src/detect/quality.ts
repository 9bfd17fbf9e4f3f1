/**
 * Face quality: size, sharpness and a rough head pose from the 5 landmarks, so later stages can
 * skip crops that would give poor embeddings (and so rank a track's crops).
 *
 * Pose model (approximate, for rejecting gross poses only): after removing roll (the angle of the
 * eye line), the nose tip of a frontal face sits on the line through the eye midpoint and the
 * mouth midpoint, at about 0.56 of the way from eyes to mouth. Treating the nose tip as a point
 * in front of the eye/mouth plane by about half the inter-ocular distance (NOSE_DEPTH), a yaw of
 * t shifts it sideways by depth * sin(t) while the eyes shrink by cos(t), so
 * yaw = atan(offset / (half eye distance * NOSE_DEPTH_RATIO)); likewise
 * pitch = asin((t - 0.56) * eye-to-mouth distance / depth) from the nose's vertical position t.
 * Signs: yaw > 0 when the face turns towards the image's right, pitch > 0 when it looks down,
 * roll > 0 when the eye line slopes down to the image's right (clockwise on screen).
 */
import { cv } from '../util/cv';
import type { AlignedFace, FaceDetection, FaceQuality, Landmarks5 } from './types';

/** Nose-tip depth in front of the eye/mouth plane, in half inter-ocular distances (anthropometric average ~1). */
const NOSE_DEPTH_RATIO = 1.0;
/**
 * Nose position between eye line (0) and mouth line (1) in a frontal face. The ArcFace template
 * has 0.495, but MTCNN places the nose tip lower: 0.56 makes the median pitch of the 150 LFW-dev
 * photos (press photos, mostly level) 0.5 degrees instead of 8.8.
 */
const FRONTAL_NOSE_T = 0.56;

const DEG = 180 / Math.PI;

export interface Pose {
  yaw: number;
  pitch: number;
  roll: number;
}

/** Head pose in degrees from 5 landmarks (see the file comment). Pure. */
export function poseFromLandmarks(l: Landmarks5): Pose {
  const [le, re, nose, lm, rm] = l;
  const roll = Math.atan2(re.y - le.y, re.x - le.x);
  const cx = (le.x + re.x) / 2;
  const cy = (le.y + re.y) / 2;
  const cos = Math.cos(-roll);
  const sin = Math.sin(-roll);
  // De-rolled coordinates, origin at the eye midpoint.
  const rot = (p: { x: number; y: number }) => ({
    x: (p.x - cx) * cos - (p.y - cy) * sin,
    y: (p.x - cx) * sin + (p.y - cy) * cos,
  });
  const r = rot(re);
  const n = rot(nose);
  const ml = rot(lm);
  const mr = rot(rm);
  const mouth = { x: (ml.x + mr.x) / 2, y: (ml.y + mr.y) / 2 };
  const halfEye = Math.max(r.x, 1e-6);
  // The face's vertical centre line at the nose's height: between eye midpoint (0,0) and mouth midpoint.
  const t = mouth.y > 1e-6 ? n.y / mouth.y : FRONTAL_NOSE_T;
  const lineX = mouth.x * Math.min(Math.max(t, 0), 1);
  const yaw = Math.atan((n.x - lineX) / (halfEye * NOSE_DEPTH_RATIO));
  const eyeMouth = Math.max(mouth.y, 1e-6);
  // Nose drop below its frontal place = depth * sin(pitch) (the eye-mouth distance seen is already foreshortened).
  const sinPitch = ((t - FRONTAL_NOSE_T) * eyeMouth) / (halfEye * NOSE_DEPTH_RATIO);
  const pitch = Math.asin(Math.min(1, Math.max(-1, sinPitch)));
  return { yaw: yaw * DEG, pitch: pitch * DEG, roll: roll * DEG };
}

/** Side of the square the crop's centre is resampled to before measuring sharpness. */
const SHARPNESS_SIZE = 80;

/**
 * Variance of the Laplacian of the grey crop's centre (the central 60%: mostly face, no border),
 * resampled to 80x80 first so the figure does not depend on the embedder's crop size.
 */
export function sharpness(crop: AlignedFace['crop']): number {
  const c = cv();
  const { width, height, data } = crop;
  if (data.length !== width * height * 3) {
    throw new RangeError(`crop must hold width*height*3 = ${width * height * 3} bytes (BGR), got ${data.length}`);
  }
  const mat = new c.Mat(Buffer.from(data.buffer, data.byteOffset, data.byteLength), height, width, c.CV_8UC3);
  const x0 = Math.floor(width * 0.2);
  const y0 = Math.floor(height * 0.2);
  const w = Math.max(1, Math.min(Math.round(width * 0.6), width - x0));
  const h = Math.max(1, Math.min(Math.round(height * 0.6), height - y0));
  const centre = mat.getRegion(new c.Rect(x0, y0, w, h)).cvtColor(c.COLOR_BGR2GRAY);
  const interp = w > SHARPNESS_SIZE ? c.INTER_AREA : c.INTER_LINEAR;
  const grey = centre.resize(SHARPNESS_SIZE, SHARPNESS_SIZE, 0, 0, interp);
  const { stddev } = grey.laplacian(c.CV_64F).meanStdDev();
  const sd = stddev.at(0, 0) as number;
  return sd * sd;
}

export interface QualityThresholds {
  /** Smallest acceptable min(box width, height), frame pixels. */
  minFaceSize: number;
  /** Smallest acceptable inter-ocular distance, frame pixels. */
  minEyeDistance: number;
  /** Smallest acceptable sharpness (variance of Laplacian of the aligned crop's centre). */
  minBlur: number;
  /** Largest acceptable |yaw|, |pitch|, |roll| in degrees. */
  maxYaw: number;
  maxPitch: number;
  maxRoll: number;
}

/**
 * Defaults. Size: below ~40 px a face carries too little detail for a reliable embedding (and a
 * wrong match is the worst failure). Blur: on the 150 LFW-dev photos (MTCNN, 150x150 and 112x112
 * crops) sharpness has 1st percentile 20-24 and median 60-76; the same photos blurred with a
 * Gaussian of sigma 2 px have median 12 (sigma 4: 95th percentile 8), so 15 keeps ~99% of
 * ordinary photos and drops most visibly blurred faces. Pose: the 5-point
 * estimates are rough; 45/35 degrees reject clear profiles and strong nods while keeping the
 * natural variation of cooperative and CCTV faces. Roll is undone by alignment, so only extreme
 * roll (more often a landmark failure) is rejected.
 */
export const DEFAULT_QUALITY_THRESHOLDS: QualityThresholds = {
  minFaceSize: 40,
  minEyeDistance: 14,
  minBlur: 15,
  maxYaw: 45,
  maxPitch: 35,
  maxRoll: 50,
};

/** Size at which the size term of the score reaches 1, frame pixels. */
const FULL_SCORE_FACE_SIZE = 100;
/** Sharpness at which the blur term of the score is 0.5. */
const HALF_SCORE_BLUR = 30;

export function assessQuality(det: FaceDetection, crop: AlignedFace['crop']): FaceQuality {
  const [le, re] = det.landmarks;
  const eyeDistance = Math.hypot(re.x - le.x, re.y - le.y);
  const faceSize = Math.min(det.box.width, det.box.height);
  const blur = sharpness(crop);
  const { yaw, pitch, roll } = poseFromLandmarks(det.landmarks);
  const sizeTerm = Math.min(1, Math.max(0, faceSize / FULL_SCORE_FACE_SIZE));
  const blurTerm = blur / (blur + HALF_SCORE_BLUR);
  const poseTerm = (Math.cos(Math.min(90, Math.abs(yaw)) / DEG) * Math.cos(Math.min(90, Math.abs(pitch)) / DEG)) ** 2;
  const detTerm = Math.min(1, Math.max(0, det.score));
  const score = detTerm * sizeTerm * blurTerm * poseTerm;
  return { eyeDistance, faceSize, blur, yaw, pitch, roll, score };
}

/** Why a face should not be used, or null when it passes. Checks size, then blur, then pose. */
export function qualityGate(q: FaceQuality, thresholds: Partial<QualityThresholds> = {}): string | null {
  const t = { ...DEFAULT_QUALITY_THRESHOLDS, ...thresholds };
  const f = (v: number) => (Math.abs(v) >= 10 ? v.toFixed(0) : v.toFixed(1));
  if (q.faceSize < t.minFaceSize) return `too small: face ${f(q.faceSize)} px < ${t.minFaceSize} px`;
  if (q.eyeDistance < t.minEyeDistance) {
    return `too small: eye distance ${f(q.eyeDistance)} px < ${t.minEyeDistance} px`;
  }
  if (q.blur < t.minBlur) return `too blurry: sharpness ${f(q.blur)} < ${t.minBlur}`;
  if (Math.abs(q.yaw) > t.maxYaw) return `too much pose: yaw ${f(q.yaw)}° beyond ±${t.maxYaw}°`;
  if (Math.abs(q.pitch) > t.maxPitch) return `too much pose: pitch ${f(q.pitch)}° beyond ±${t.maxPitch}°`;
  if (Math.abs(q.roll) > t.maxRoll) return `too much pose: roll ${f(q.roll)}° beyond ±${t.maxRoll}°`;
  return null;
}
