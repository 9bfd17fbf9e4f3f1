/**
 * Per-camera face tracker: links detections across frames so a person is embedded and alerted
 * once per visit, not once per frame.
 *
 * Hand-written: the domain is small (one frame's faces against a few live tracks), the rules are
 * ours (face-specific landmark distance, expiry by time rather than frame count because analysis
 * frames arrive at a variable rate), and general multi-object trackers (SORT/DeepSORT ports) bring
 * Kalman filters and appearance models we do not need. Pure: time is passed in, no I/O.
 *
 * Association: each live track is predicted to the frame time by constant velocity (its recent
 * box-centre motion); a detection may join a track when IoU(predicted box, detection box) >=
 * minIou or the mean landmark distance, in face sizes, <= maxLandmarkDistance, and the face size
 * changed by less than maxScaleChange. Cost = (1 - IoU) + landmark distance; the assignment is the
 * optimal one (Hungarian, assignment.ts). Unmatched detections start tracks `${camera}-${n}`
 * (n from 1 per tracker). A track expires when no detection joined it for more than maxAgeMs.
 */
import type { Box, FaceDetection, Landmarks5, Point } from '../detect/types';
import { assign } from './assignment';

export interface TrackerOptions {
  /** A track without a detection for longer than this expires. Default 1000 ms. */
  maxAgeMs?: number;
  /** Minimum IoU of predicted and detected boxes to associate. Default 0.2. */
  minIou?: number;
  /** Maximum mean landmark distance, in face sizes, to associate. Default 0.5. */
  maxLandmarkDistance?: number;
  /** Maximum ratio between the sizes (sqrt of box areas) of track and detection. Default 2. */
  maxScaleChange?: number;
  /** Constant-velocity prediction. Default true. */
  predict?: boolean;
}

export interface Track {
  id: string;
  camera: string;
  /** Timestamps (ms) of the first and latest detections. */
  firstSeen: number;
  lastSeen: number;
  box: Box;
  landmarks: Landmarks5;
  /** Detector confidence of the latest detection. */
  score: number;
  /** Detections associated so far. */
  hits: number;
}

export interface TrackUpdate {
  /** tracks[i] is the track detection i was assigned to (a copy, safe to keep). */
  tracks: Track[];
  /** Ids of tracks created in this update. */
  created: string[];
  /** Tracks that expired at this update (their final state). */
  expired: Track[];
}

interface State extends Track {
  /** Box-centre velocity in px/ms. */
  vx: number;
  vy: number;
}

const copy = (s: State): Track => ({
  id: s.id,
  camera: s.camera,
  firstSeen: s.firstSeen,
  lastSeen: s.lastSeen,
  box: { ...s.box },
  landmarks: s.landmarks.map((p) => ({ ...p })) as Landmarks5,
  score: s.score,
  hits: s.hits,
});

export function iou(a: Box, b: Box): number {
  const x1 = Math.max(a.x, b.x);
  const y1 = Math.max(a.y, b.y);
  const x2 = Math.min(a.x + a.width, b.x + b.width);
  const y2 = Math.min(a.y + a.height, b.y + b.height);
  const inter = Math.max(0, x2 - x1) * Math.max(0, y2 - y1);
  const union = a.width * a.height + b.width * b.height - inter;
  return union > 0 ? inter / union : 0;
}

/** Mean distance between corresponding landmarks divided by the mean face size (sqrt of box area). */
export function landmarkDistance(a: Landmarks5, b: Landmarks5, boxA: Box, boxB: Box): number {
  const size = (Math.sqrt(Math.max(0, boxA.width * boxA.height)) + Math.sqrt(Math.max(0, boxB.width * boxB.height))) / 2;
  if (!(size > 0)) return Infinity;
  let s = 0;
  for (let i = 0; i < 5; i++) s += Math.hypot(a[i].x - b[i].x, a[i].y - b[i].y);
  return s / 5 / size;
}

export class FaceTracker {
  private readonly live: State[] = [];
  private next = 1;
  private readonly o: Required<TrackerOptions>;
  private lastTime = -Infinity;

  constructor(
    readonly camera: string,
    options: TrackerOptions = {},
  ) {
    if (!camera) throw new Error('FaceTracker: camera name is required (track ids are `${camera}-${n}`)');
    this.o = {
      maxAgeMs: options.maxAgeMs ?? 1000,
      minIou: options.minIou ?? 0.2,
      maxLandmarkDistance: options.maxLandmarkDistance ?? 0.5,
      maxScaleChange: options.maxScaleChange ?? 2,
      predict: options.predict ?? true,
    };
    if (!(this.o.maxAgeMs >= 0)) throw new RangeError(`maxAgeMs must be >= 0, got ${this.o.maxAgeMs}`);
  }

  /** Live tracks (copies). */
  tracks(): Track[] {
    return this.live.map(copy);
  }

  /**
   * Removes and returns tracks not seen for more than maxAgeMs at `nowMs`. update() calls it;
   * call it yourself when frames stop arriving (camera down) so tracks still end.
   */
  expire(nowMs: number): Track[] {
    const out: Track[] = [];
    for (let i = this.live.length - 1; i >= 0; i--) {
      if (nowMs - this.live[i].lastSeen > this.o.maxAgeMs) out.unshift(copy(this.live.splice(i, 1)[0]));
    }
    return out;
  }

  /**
   * Associates one frame's detections at `timestampMs`. A timestamp earlier than the previous
   * frame's (a camera clock jump) is treated as no time elapsed rather than refused.
   */
  update(detections: readonly FaceDetection[], timestampMs: number): TrackUpdate {
    if (!Number.isFinite(timestampMs)) throw new RangeError(`timestamp must be a finite number of ms, got ${timestampMs}`);
    const t = Math.max(timestampMs, this.lastTime);
    this.lastTime = t;
    const expired = this.expire(t);

    const predicted = this.live.map((s) => {
      const dt = this.o.predict ? t - s.lastSeen : 0;
      const dx = s.vx * dt;
      const dy = s.vy * dt;
      return {
        box: { x: s.box.x + dx, y: s.box.y + dy, width: s.box.width, height: s.box.height },
        landmarks: s.landmarks.map((p) => ({ x: p.x + dx, y: p.y + dy })) as Landmarks5,
      };
    });
    const FORBIDDEN = 1e6;
    const cost = detections.map((d) =>
      predicted.map((p) => {
        const sa = Math.sqrt(p.box.width * p.box.height);
        const sb = Math.sqrt(d.box.width * d.box.height);
        if (!(sa > 0 && sb > 0) || Math.max(sa / sb, sb / sa) > this.o.maxScaleChange) return FORBIDDEN;
        const ov = iou(p.box, d.box);
        const ld = landmarkDistance(p.landmarks, d.landmarks, p.box, d.box);
        if (ov < this.o.minIou && !(ld <= this.o.maxLandmarkDistance)) return FORBIDDEN;
        return 1 - ov + Math.min(ld, 10);
      }),
    );
    const match = assign(cost, FORBIDDEN);

    const tracks: Track[] = [];
    const created: string[] = [];
    detections.forEach((d, i) => {
      const j = match[i];
      let s: State;
      if (j >= 0) {
        s = this.live[j];
        const dt = t - s.lastSeen;
        if (dt > 0) {
          const c0 = centre(s.box);
          const c1 = centre(d.box);
          const vx = (c1.x - c0.x) / dt;
          const vy = (c1.y - c0.y) / dt;
          // Smooth over hits; the first motion sample is taken as is.
          s.vx = s.hits > 1 ? 0.5 * s.vx + 0.5 * vx : vx;
          s.vy = s.hits > 1 ? 0.5 * s.vy + 0.5 * vy : vy;
        }
        s.lastSeen = t;
        s.box = { ...d.box };
        s.landmarks = d.landmarks.map((p) => ({ ...p })) as Landmarks5;
        s.score = d.score;
        s.hits++;
      } else {
        s = {
          id: `${this.camera}-${this.next++}`,
          camera: this.camera,
          firstSeen: t,
          lastSeen: t,
          box: { ...d.box },
          landmarks: d.landmarks.map((p) => ({ ...p })) as Landmarks5,
          score: d.score,
          hits: 1,
          vx: 0,
          vy: 0,
        };
        created.push(s.id);
      }
      tracks.push(copy(s));
      if (j < 0) this.live.push(s);
    });
    return { tracks, created, expired };
  }
}

function centre(b: Box): Point {
  return { x: b.x + b.width / 2, y: b.y + b.height / 2 };
}
