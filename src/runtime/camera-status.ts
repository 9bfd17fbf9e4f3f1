/**
 * The status of one running camera as the management API reports it (GET /cameras/:name/status): online or not,
 * the frame rate actually decoded over the last few seconds, when the last frame arrived and the last failure.
 * Embedded mode reads it from the camera's source in-process; in distributed mode each ingest process publishes it
 * for the cameras it runs (services/cameras/status-topic.ts) and the API reads it from there.
 *
 * Nothing here holds a URL: `lastError` comes from CameraSource, which scrubs credentials from every message, and
 * is scrubbed again by the API before it answers.
 */
import type { CameraSource, CameraState } from '../ingest/camera-source';

/** Lifecycle of a camera as reported: the source's state, or `disabled` (configured, not run). */
export type CameraRunState = CameraState | 'disabled';

export interface CameraStatus {
  camera: string;
  state: CameraRunState;
  /** True while frames arrive (state `online`). */
  online: boolean;
  /** Frames per second decoded over the last FPS_WINDOW_MS (0 when none). */
  fps: number;
  /** ISO time of the last decoded frame, or null before the first. */
  lastFrameAt: string | null;
  /** The last failure (credentials masked), or null. */
  lastError: string | null;
  /** Frames decoded since the camera (re)started in this process. */
  frames: number;
  /** Connection attempts after a failure. */
  reconnects: number;
  /** ISO time this status was taken. */
  updatedAt: string;
}

/** The measured frame rate is taken over this window. */
export const FPS_WINDOW_MS = 5000;

/** Measures the decoded frame rate of a source: the frame times of the last FPS_WINDOW_MS. */
export class FpsMeter {
  private readonly times: number[] = [];

  constructor(source?: CameraSource) {
    source?.on('frame', (f) => this.tick(f.ts));
  }

  tick(ts: number): void {
    this.times.push(ts);
    this.trim(ts);
  }

  /** Frames per second over the window ending `now` (0 with fewer than two frames in it). */
  fps(now = Date.now()): number {
    this.trim(now);
    if (this.times.length < 2) return 0;
    const span = Math.max(now - this.times[0], this.times[this.times.length - 1] - this.times[0]);
    return span > 0 ? Math.round(((this.times.length - 1) / span) * 1000 * 100) / 100 : 0;
  }

  private trim(now: number): void {
    while (this.times.length > 0 && now - this.times[0] > FPS_WINDOW_MS) this.times.shift();
  }
}

/** The status of a running source. */
export function sourceStatus(source: CameraSource, meter: FpsMeter, now = Date.now()): CameraStatus {
  const s = source.stats;
  return {
    camera: source.name,
    state: source.state,
    online: s.online,
    fps: s.online ? meter.fps(now) : 0,
    lastFrameAt: s.lastFrameAt === null ? null : new Date(s.lastFrameAt).toISOString(),
    lastError: s.lastError,
    frames: s.frames,
    reconnects: s.reconnects,
    updatedAt: new Date(now).toISOString(),
  };
}

/** The status of a camera that is configured but not run (disabled, or not yet started anywhere). */
export function idleStatus(camera: string, state: CameraRunState, now = Date.now()): CameraStatus {
  return { camera, state, online: false, fps: 0, lastFrameAt: null, lastError: null, frames: 0, reconnects: 0, updatedAt: new Date(now).toISOString() };
}
