/**
 * Fields 3-16 shared by FaceCrop and FaceEmbedding: where a face came from (camera, track, frame), what the
 * detector saw, its quality, the embedder model, the alert picture and the stages passed.
 */
import type { FaceDetection, FaceQuality, Landmarks5 } from '../detect/types';
import type { Check } from './check';
import { int64ToNumber, type WireInt64 } from './codec';
import type { FaceContext, StageStamp } from './types';

export interface WireStage {
  stage: string;
  tsMs: WireInt64;
}

interface WireBox {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** The context fields as protobufjs decodes them (camelCase names of proto.ts). */
export interface WireFaceContext {
  camera: string;
  trackId: string;
  stages: WireStage[];
  trackFirstSeenMs: WireInt64;
  frameSeq: WireInt64;
  frameTsMs: WireInt64;
  frameWidth: number;
  frameHeight: number;
  box: WireBox | null;
  landmarks: number[];
  detectorScore: number;
  quality: FaceQuality | null;
  model: string;
  faceJpeg?: Uint8Array | null;
}

const QUALITY_FIELDS = ['score', 'blur', 'yaw', 'pitch', 'roll', 'faceSize', 'eyeDistance'] as const;
const QUALITY_WIRE_NAMES: Record<(typeof QUALITY_FIELDS)[number], string> = {
  score: 'score',
  blur: 'blur',
  yaw: 'yaw',
  pitch: 'pitch',
  roll: 'roll',
  faceSize: 'face_size',
  eyeDistance: 'eye_distance',
};

function checkDetection(c: Check, box: WireBox | null | undefined, landmarks: readonly number[], score: unknown): void {
  const b = c.present('box', box);
  c.finite('box.x', b.x);
  c.finite('box.y', b.y);
  c.positive('box.width', b.width);
  c.positive('box.height', b.height);
  if (landmarks.length !== 10) c.fail('landmarks', `expected 10 values (x, y of 5 points), got ${landmarks.length}`);
  for (let i = 0; i < 10; i++) c.finite(`landmarks[${i}]`, landmarks[i]);
  c.range('detector_score', score, 0, 1);
}

function checkQuality(c: Check, q: FaceQuality | null | undefined): FaceQuality {
  const v = c.present('quality', q);
  for (const k of QUALITY_FIELDS) c.finite(`quality.${QUALITY_WIRE_NAMES[k]}`, v[k]);
  return v;
}

/** Validates a context and returns its wire fields (encoding). */
export function contextToWire(c: Check, m: FaceContext): WireFaceContext {
  if (m === null || typeof m !== 'object') c.fail('record', 'expected an object');
  c.camera('camera', m.camera);
  const track = c.present('track', m.track);
  const frame = c.present('frame', m.frame);
  const det = c.present('detection', m.detection);
  const lm = c.present('detection.landmarks', det.landmarks);
  if (!Array.isArray(lm) || lm.length !== 5) c.fail('landmarks', `expected 5 points, got ${Array.isArray(lm) ? lm.length : typeof lm}`);
  const landmarks = [lm[0].x, lm[0].y, lm[1].x, lm[1].y, lm[2].x, lm[2].y, lm[3].x, lm[3].y, lm[4].x, lm[4].y];
  checkDetection(c, det.box, landmarks, det.score);
  const q = checkQuality(c, m.quality);
  if (m.faceJpeg !== undefined) c.jpeg('face_jpeg', m.faceJpeg);
  const wire: WireFaceContext = {
    camera: m.camera,
    trackId: c.text('track_id', track.id),
    stages: c.stages('stages', m.stages),
    trackFirstSeenMs: c.ms('track_first_seen_ms', track.firstSeenMs),
    frameSeq: c.int('frame_seq', frame.seq, 0, Number.MAX_SAFE_INTEGER),
    frameTsMs: c.ms('frame_ts_ms', frame.tsMs),
    frameWidth: c.int('frame_width', frame.width, 1, 65535),
    frameHeight: c.int('frame_height', frame.height, 1, 65535),
    box: { x: det.box.x, y: det.box.y, width: det.box.width, height: det.box.height },
    landmarks,
    detectorScore: det.score,
    quality: {
      score: q.score,
      blur: q.blur,
      yaw: q.yaw,
      pitch: q.pitch,
      roll: q.roll,
      faceSize: q.faceSize,
      eyeDistance: q.eyeDistance,
    },
    model: c.model('model', m.model),
  };
  if (m.faceJpeg !== undefined) wire.faceJpeg = m.faceJpeg;
  return wire;
}

/** Validates decoded context fields and converts them (decoding). */
export function contextFromWire(c: Check, w: WireFaceContext, copy = false): FaceContext {
  const camera = c.camera('camera', w.camera);
  const trackId = c.text('track_id', w.trackId);
  const stages: StageStamp[] = c.stages(
    'stages',
    w.stages.map((s) => ({ stage: s.stage, tsMs: int64ToNumber(s.tsMs) })),
  );
  const firstSeenMs = c.ms('track_first_seen_ms', int64ToNumber(w.trackFirstSeenMs));
  const seq = c.int('frame_seq', int64ToNumber(w.frameSeq), 0, Number.MAX_SAFE_INTEGER);
  const tsMs = c.ms('frame_ts_ms', int64ToNumber(w.frameTsMs));
  const width = c.int('frame_width', w.frameWidth, 1, 65535);
  const height = c.int('frame_height', w.frameHeight, 1, 65535);
  checkDetection(c, w.box, w.landmarks, w.detectorScore);
  const box = w.box as WireBox;
  const l = w.landmarks;
  const landmarks: Landmarks5 = [
    { x: l[0], y: l[1] },
    { x: l[2], y: l[3] },
    { x: l[4], y: l[5] },
    { x: l[6], y: l[7] },
    { x: l[8], y: l[9] },
  ];
  const detection: FaceDetection = { box: { x: box.x, y: box.y, width: box.width, height: box.height }, score: w.detectorScore, landmarks };
  const q = checkQuality(c, w.quality);
  const quality: FaceQuality = {
    eyeDistance: q.eyeDistance,
    faceSize: q.faceSize,
    blur: q.blur,
    yaw: q.yaw,
    pitch: q.pitch,
    roll: q.roll,
    score: q.score,
  };
  const model = c.model('model', w.model);
  const out: FaceContext = { camera, track: { id: trackId, firstSeenMs }, frame: { seq, tsMs, width, height }, detection, quality, model, stages };
  if (w.faceJpeg !== null && w.faceJpeg !== undefined) {
    const jpeg = c.jpeg('face_jpeg', w.faceJpeg);
    out.faceJpeg = copy ? Uint8Array.prototype.slice.call(jpeg) : jpeg;
  }
  return out;
}
