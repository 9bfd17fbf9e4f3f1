/** Plain geometric and per-face records shared by detection, alignment, tracking and matching. */

export interface Point {
  x: number;
  y: number;
}

export interface Box {
  x: number;
  y: number;
  width: number;
  height: number;
}

/**
 * Five facial landmarks in image pixel coordinates, in this fixed order:
 * 0: eye on the image's left (the subject's right eye), 1: eye on the image's right,
 * 2: nose tip, 3: mouth corner on the image's left, 4: mouth corner on the image's right.
 * This is the order of MTCNN, YuNet and the ArcFace template.
 */
export type Landmarks5 = [Point, Point, Point, Point, Point];

export interface FaceDetection {
  /** Box in the coordinates of the original (not downscaled) frame. */
  box: Box;
  /** Detector confidence in 0..1. */
  score: number;
  landmarks: Landmarks5;
}

/** Quality measures later stages use to skip bad crops. */
export interface FaceQuality {
  /** Inter-ocular distance in source pixels. */
  eyeDistance: number;
  /** min(box width, box height) in source pixels. */
  faceSize: number;
  /** Variance of the Laplacian of the grey aligned crop; low means blurred. */
  blur: number;
  /** Pose estimates from the landmarks, in degrees (0 = frontal). Approximate. */
  yaw: number;
  pitch: number;
  roll: number;
  /** Single 0..1 figure combining the above, for ranking a track's crops. */
  score: number;
}

/** A face warped onto an embedder's canonical template, ready for preprocessing. */
export interface AlignedFace {
  detection: FaceDetection;
  quality: FaceQuality;
  /** BGR uint8 crop of the embedder's input size. */
  crop: { width: number; height: number; data: Uint8Array };
}
