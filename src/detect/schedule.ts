/**
 * The detection schedule of one camera: a full-frame detection every `fullEvery` analysed frames, and on the
 * frames between, detection only in regions around the faces of the previous frame (FaceDetector.detectIn). A
 * frame between full detections with no face in the previous frame is not searched at all.
 *
 * Why: a video detector's cost is the full-frame search (MTCNN's pyramid, ~60-75 ms a 640 px frame on one core)
 * while a face already found moves little from one frame to the next; looking for it again in a region
 * twice its size, from 0.7 of its size up, costs a few milliseconds and gives the tracker and the aligner fresh
 * boxes and landmarks every frame. New faces are found at the next full detection: with the default interval
 * (detector.fullDetectionIntervalMs = 200 ms) within 200 ms of appearing, shorter than any face needs to be in
 * view to be recognised. At the default analysis rate (5 fps) every frame is a full detection; the schedule only
 * saves work at higher rates. (DeepStream's nvinfer "interval" is the same idea.) Written here, not taken from a
 * library: it is the domain (regions from faces, when to search the whole frame).
 */
import type { Frame } from '../image/frame';
import type { Mat } from './cvmat';
import type { DetectRegion, FaceDetector } from './detector';
import type { Box, FaceDetection } from './types';

/**
 * Defaults, measured on the bench:pipeline slideshow and the ../shared videos with MTCNN (every face of the
 * whole-frame detections found again in the regions between, landmarks within 3-5 % of the eye distance (median)):
 * a region twice the face's size, searched from 0.7 of its size. A face moves and grows far less than that in
 * 40-200 ms.
 */
export const DEFAULT_MARGIN = 0.5;
export const DEFAULT_MIN_FACE_RATIO = 0.7;

export interface ScheduleOptions {
  /** A full-frame detection every this many frames (1: every frame). */
  fullEvery: number;
  /** A face's region extends this many face sizes beyond it on each side (default 0.5: twice its size). */
  margin?: number;
  /** The region is searched for faces from this fraction of the face's size up (default 0.7). */
  minFaceRatio?: number;
}

/** Full detections every `fullEvery` frames, where frames come at `fps` and full ones are wanted every `intervalMs`. */
export function fullEveryFrames(intervalMs: number, fps: number): number {
  if (!(intervalMs > 0) || !(fps > 0)) return 1;
  return Math.max(1, Math.round((intervalMs * fps) / 1000));
}

/**
 * Search regions around faces (frame pixels): a square of side (1 + 2 * margin) * face size centred on each face,
 * clipped to the frame, searched from minFaceRatio * face size up. Overlapping regions are not merged (faces side
 * by side would make one region of nearly the whole frame); a face two regions find is reported once by
 * FaceDetector.detectIn. Pure.
 */
export function regionsAround(faces: readonly Box[], width: number, height: number, margin = DEFAULT_MARGIN, minFaceRatio = DEFAULT_MIN_FACE_RATIO): DetectRegion[] {
  const regions: DetectRegion[] = [];
  for (const f of faces) {
    const side = Math.max(f.width, f.height);
    const half = side / 2 + margin * side;
    const cx = f.x + f.width / 2;
    const cy = f.y + f.height / 2;
    const x0 = Math.max(0, cx - half);
    const y0 = Math.max(0, cy - half);
    const x1 = Math.min(width, cx + half);
    const y1 = Math.min(height, cy + half);
    if (x1 - x0 < 1 || y1 - y0 < 1) continue;
    regions.push({ box: { x: x0, y: y0, width: x1 - x0, height: y1 - y0 }, minFaceSize: side * minFaceRatio });
  }
  return regions;
}

/** How the schedule searched a frame. */
export type SearchKind = 'whole' | 'regions' | 'skipped';

export interface ScheduleStats {
  /** Frames searched whole. */
  full: number;
  /** Frames searched in regions around the previous faces. */
  regions: number;
  /** Frames between full detections with no face before them: not searched. */
  skipped: number;
}

/** One camera's schedule over a shared detector. Not for concurrent calls (a camera analyses one frame at a time). */
export class DetectionSchedule implements FaceDetector {
  readonly stats: ScheduleStats = { full: 0, regions: 0, skipped: 0 };
  /** How the last frame was searched (for the per-camera metric). */
  lastSearch: SearchKind | undefined;
  private sinceFull = Number.POSITIVE_INFINITY;
  private last: FaceDetection[] = [];
  private lostOne = false;

  constructor(private readonly inner: FaceDetector, private readonly options: ScheduleOptions) {
    if (!(Number.isInteger(options.fullEvery) && options.fullEvery >= 1)) {
      throw new RangeError(`fullEvery must be an integer >= 1, got ${options.fullEvery}`);
    }
  }

  get name(): string {
    return this.inner.name;
  }

  async detect(frame: Frame, mat?: Mat): Promise<FaceDetection[]> {
    const full = !this.inner.detectIn || this.lostOne || this.sinceFull + 1 >= this.options.fullEvery;
    let found: FaceDetection[];
    if (full) {
      found = await this.inner.detect(frame, mat);
      this.sinceFull = 0;
      this.stats.full += 1;
      this.lastSearch = 'whole';
    } else {
      this.sinceFull += 1;
      if (this.last.length === 0) {
        found = [];
        this.stats.skipped += 1;
        this.lastSearch = 'skipped';
      } else {
        const regions = regionsAround(
          this.last.map((f) => f.box),
          frame.width,
          frame.height,
          this.options.margin,
          this.options.minFaceRatio,
        );
        found = await this.inner.detectIn!(frame, regions, mat);
        this.stats.regions += 1;
        this.lastSearch = 'regions';
      }
    }
    // A face lost between full detections (it left, turned away or moved fast): search the whole next frame.
    this.lostOne = !full && found.length < this.last.length;
    this.last = found;
    return found;
  }

  ready(): Promise<void> {
    return this.inner.ready?.() ?? Promise.resolve();
  }
}
