/**
 * Per-camera track state of the match service: one TrackDecider per camera (a camera's records all arrive on one
 * partition, so one process holds a camera's tracks), and when each track last received an embedding. A track
 * idle for `idleMs` is forgotten (its embeddings dropped: biometric data is not kept); the ingest side's tracker
 * has long ended it by then. Idle is measured on this process's clock (records replayed after a restart carry old
 * frame times).
 */
import { TrackDecider } from '../../runtime/track-decider';

interface CameraState {
  decider: TrackDecider;
  /** trackId → Date.now() of its last embedding; Map order = least recently touched first. */
  touched: Map<string, number>;
}

export class CameraTracks {
  private readonly cameras = new Map<string, CameraState>();

  constructor(
    private readonly idleMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** The camera's decider, with the track marked as active now. */
  touch(camera: string, trackId: string): TrackDecider {
    let c = this.cameras.get(camera);
    if (!c) {
      c = { decider: new TrackDecider(), touched: new Map() };
      this.cameras.set(camera, c);
    }
    c.touched.delete(trackId);
    c.touched.set(trackId, this.now());
    return c.decider;
  }

  /** Forgets tracks idle for idleMs (and cameras left without tracks); returns how many tracks were forgotten. */
  sweep(nowMs: number = this.now()): number {
    let forgotten = 0;
    for (const [camera, c] of this.cameras) {
      for (const [trackId, at] of c.touched) {
        if (nowMs - at < this.idleMs) break; // the rest were touched later
        c.touched.delete(trackId);
        c.decider.forget(trackId);
        forgotten++;
      }
      if (c.touched.size === 0) this.cameras.delete(camera);
    }
    return forgotten;
  }

  /** Tracks held, over all cameras. */
  get tracks(): number {
    let n = 0;
    for (const c of this.cameras.values()) n += c.touched.size;
    return n;
  }

  get cameraCount(): number {
    return this.cameras.size;
  }
}
