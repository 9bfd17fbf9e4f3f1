/**
 * The per-camera face stage shared by embedded mode (CameraPipeline: embeds and decides in-process) and the
 * distributed ingest service (publishes FaceCrop records): the camera's frames (newest only) → detect, align and
 * assess quality (analyzeFrame) → FaceTracker → BestCrops → one "embed this crop" event per chosen crop, with the
 * track, the frame, the aligned face, the face JPEG for the alert picture and when detection and alignment ended.
 *
 * The stage cores are the pure modules (tracker, best crops); this file wires them and records the camera metrics
 * (frames, dropped frames, faces, tracks, detect/align seconds). What happens to a crop is the caller's business.
 */
import { analyzeFrame } from '../detect/analyze';
import type { FaceDetector } from '../detect/detector';
import { DetectionSchedule, fullEveryFrames } from '../detect/schedule';
import type { AlignedFace } from '../detect/types';
import type { CameraSource, TimedFrame } from '../ingest/camera-source';
import type { FacestreamMetrics } from '../metrics/registry';
import type { EmbedderDescriptor } from '../models/descriptor';
import { BestCrops, type QualityGate } from '../track/best-crops';
import { FaceTracker, type Track, type TrackerOptions } from '../track/tracker';
import type { Logger } from '../util/log';
import { faceJpeg } from './face-jpeg';

export interface FaceStageOptions {
  detector: FaceDetector;
  /** The embedder the crops are aligned for (its alignment template and input size). */
  embedder: EmbedderDescriptor;
  metrics: FacestreamMetrics;
  log: Logger;
  tracker: TrackerOptions;
  bestCrops: { maxPerTrack: number; minIntervalMs: number; gate: Partial<QualityGate> };
  /** Whole-frame detection at least this often; between, only around the faces seen (schedule.ts). 0: every frame. */
  fullDetectionIntervalMs?: number;
}

/** A crop the best-crop policy chose for embedding. */
export interface CropToEmbed {
  camera: string;
  /** The track the face belongs to (a copy: id, firstSeen, …). */
  track: Track;
  frame: TimedFrame;
  /** Detection, quality and the aligned crop (BGR, the embedder's input size). */
  face: AlignedFace;
  /** JPEG of the face region of the frame (the alert picture). */
  jpeg: Buffer;
  /** Wall-clock ms when detection ended and when alignment (with quality) ended. */
  detectedAtMs: number;
  alignedAtMs: number;
}

export interface FaceStageHandlers {
  /** Each face seen in a frame, with its track (before the best-crop decision). */
  onSighting?(track: Track, frameTs: number): void;
  /** A track expired (no detection for tracker.maxAgeMs). */
  onTrackEnd?(trackId: string): void;
  /** A crop chosen for embedding. Synchronous: the stage goes on with the next face; queue slow work yourself. */
  onCrop(crop: CropToEmbed): void;
}

export class FaceStage {
  private readonly tracker: FaceTracker;
  private readonly crops: BestCrops;
  /** The detector with the end of each detection recorded (to stamp and time detect apart from align). */
  private readonly timedDetector: FaceDetector;
  private detectedAtNs = 0n;
  private loopDone: Promise<void> | undefined;

  constructor(
    readonly source: CameraSource,
    private readonly options: FaceStageOptions,
    private readonly handlers: FaceStageHandlers,
  ) {
    this.tracker = new FaceTracker(source.name, options.tracker);
    this.crops = new BestCrops({ maxPerTrack: options.bestCrops.maxPerTrack, minIntervalMs: options.bestCrops.minIntervalMs, gate: options.bestCrops.gate });
    // The camera's own detection schedule over the shared detector: whole frames every fullEvery frames.
    const fullEvery = fullEveryFrames(options.fullDetectionIntervalMs ?? 0, source.analysisFps);
    const schedule = new DetectionSchedule(options.detector, { fullEvery });
    const camera = source.name;
    this.timedDetector = {
      name: schedule.name,
      detect: async (frame, mat) => {
        const out = await schedule.detect(frame, mat);
        this.detectedAtNs = process.hrtime.bigint();
        if (schedule.lastSearch) options.metrics.detectionsTotal.inc({ camera, search: schedule.lastSearch });
        return out;
      },
    };
  }

  get name(): string {
    return this.source.name;
  }

  /** Starts the source and the analysis loop. */
  start(): void {
    this.source.start();
    this.loopDone = this.loop();
  }

  /** Resolves when the frame loop has finished (the source ended or was stopped). */
  async done(): Promise<void> {
    await this.loopDone;
  }

  /** Stops the source (ffmpeg) and waits for the frame in hand to be analysed. */
  async stop(): Promise<void> {
    await this.source.stop();
    await this.done();
  }

  private async loop(): Promise<void> {
    const { metrics, log } = this.options;
    const camera = this.source.name;
    let lastDropped = 0;
    for await (const frame of this.source.frames()) {
      metrics.framesTotal.inc({ camera });
      const dropped = this.source.stats.dropped;
      if (dropped > lastDropped) {
        metrics.framesDroppedTotal.inc({ camera }, dropped - lastDropped);
        lastDropped = dropped;
      }
      try {
        await this.analyse(frame);
      } catch (err) {
        log.error({ camera, err: (err as Error).message }, 'frame analysis failed; continuing with the next frame');
      }
    }
  }

  private async analyse(frame: TimedFrame): Promise<void> {
    const { metrics, embedder, log } = this.options;
    const camera = this.source.name;
    const t0 = process.hrtime.bigint();
    this.detectedAtNs = 0n;
    const faces = await analyzeFrame(this.timedDetector, frame, embedder);
    const t2 = process.hrtime.bigint();
    // No detection ran (cannot happen with analyzeFrame, but never let a stamp go backwards): all of it is detect.
    const t1 = this.detectedAtNs > 0n ? this.detectedAtNs : t2;
    metrics.stageSeconds.observe({ stage: 'detect' }, Number(t1 - t0) / 1e9);
    const alignedAtMs = Date.now();
    const detectedAtMs = alignedAtMs - Math.round(Number(t2 - t1) / 1e6);
    if (faces.length > 0) {
      metrics.stageSeconds.observe({ stage: 'align' }, Number(t2 - t1) / 1e9);
      metrics.facesDetectedTotal.inc({ camera }, faces.length);
    }
    const update = this.tracker.update(faces.map((f) => f.detection), frame.ts);
    if (update.created.length) metrics.tracksStartedTotal.inc({ camera }, update.created.length);
    for (const t of update.expired) this.endTrack(t.id);
    faces.forEach((face, i) => {
      const track = update.tracks[i];
      this.handlers.onSighting?.(track, frame.ts);
      const decision = this.crops.consider(track.id, face.quality, frame.ts);
      if (!decision.embed) {
        if (decision.reason === 'gate-failed') log.debug({ camera, trackId: track.id, detail: decision.detail }, 'crop below the quality gate');
        return;
      }
      this.handlers.onCrop({ camera, track, frame, face, jpeg: faceJpeg(frame, face.detection.box), detectedAtMs, alignedAtMs });
    });
  }

  private endTrack(trackId: string): void {
    this.crops.forget(trackId);
    this.handlers.onTrackEnd?.(trackId);
  }
}
