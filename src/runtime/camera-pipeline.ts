/**
 * One camera in embedded mode: frames (newest only) → detect/align/quality → tracker → best crops → embed
 * (shared batcher) → track decision → cooldown → alert. The stage cores are the pure modules; this file only wires
 * them and records metrics.
 */
import { analyzeFrame } from '../detect/analyze';
import type { FaceDetector } from '../detect/detector';
import type { EmbedderDescriptor } from '../models/descriptor';
import { CameraSource } from '../ingest/camera-source';
import type { TimedFrame } from '../ingest/camera-source';
import { BestCrops, type QualityGate } from '../track/best-crops';
import { FaceTracker, type TrackerOptions } from '../track/tracker';
import type { Logger } from '../util/log';
import type { FacestreamMetrics } from '../metrics/registry';
import type { EmbedBatcher } from './embed-batcher';
import { faceJpeg } from './face-jpeg';
import { type AlertDecision, TrackDecider } from './track-decider';
import type { ModelHolder } from '../match/trainer';

export interface CameraPipelineDeps {
  detector: FaceDetector;
  embedder: EmbedderDescriptor;
  batcher: EmbedBatcher;
  holder: ModelHolder;
  metrics: FacestreamMetrics;
  log: Logger;
  tracker: TrackerOptions;
  bestCrops: { maxPerTrack: number; minIntervalMs: number; gate: Partial<QualityGate> };
  /** Called for each alert decision; returns when the alert is durably spooled (or refused by cooldown). */
  onDecision: (camera: string, decision: AlertDecision, frameTs: number) => Promise<void>;
}

export class CameraPipeline {
  private readonly tracker: FaceTracker;
  private readonly crops: BestCrops;
  private readonly decider = new TrackDecider();
  private readonly inflight = new Set<Promise<void>>();
  private loopDone: Promise<void> | undefined;

  constructor(readonly source: CameraSource, private readonly deps: CameraPipelineDeps) {
    this.tracker = new FaceTracker(source.name, deps.tracker);
    this.crops = new BestCrops({ maxPerTrack: deps.bestCrops.maxPerTrack, minIntervalMs: deps.bestCrops.minIntervalMs, gate: deps.bestCrops.gate });
  }

  get name(): string {
    return this.source.name;
  }

  /** Starts the source and the analysis loop; `done` resolves when the source ends or is stopped. */
  start(): void {
    this.source.start();
    this.loopDone = this.loop();
  }

  /** Resolves when the frame loop has finished and every embedding/decision in flight has settled. */
  async done(): Promise<void> {
    await this.loopDone;
    while (this.inflight.size > 0) await Promise.allSettled([...this.inflight]);
  }

  async stop(): Promise<void> {
    await this.source.stop();
    await this.done();
  }

  private async loop(): Promise<void> {
    const { metrics, log } = this.deps;
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
    const { metrics, detector, embedder } = this.deps;
    const camera = this.source.name;
    const t0 = process.hrtime.bigint();
    const faces = await analyzeFrame(detector, frame, embedder);
    metrics.stageSeconds.observe({ stage: 'detect' }, Number(process.hrtime.bigint() - t0) / 1e9);
    if (faces.length) metrics.facesDetectedTotal.inc({ camera }, faces.length);
    const update = this.tracker.update(faces.map((f) => f.detection), frame.ts);
    if (update.created.length) metrics.tracksStartedTotal.inc({ camera }, update.created.length);
    for (const t of update.expired) {
      this.decider.forget(t.id);
      this.crops.forget(t.id);
    }
    faces.forEach((face, i) => {
      const track = update.tracks[i];
      this.decider.seen(track.id, track.firstSeen, frame.ts);
      const decision = this.crops.consider(track.id, face.quality, frame.ts);
      if (!decision.embed) {
        if (decision.reason === 'gate-failed') this.deps.log.debug({ camera, trackId: track.id, detail: decision.detail }, 'crop below the quality gate');
        return;
      }
      this.decider.picture(track.id, {
        box: face.detection.box,
        ts: frame.ts,
        quality: face.quality.score,
        jpeg: faceJpeg(frame, face.detection.box),
        detectorScore: face.detection.score,
        frameSize: { width: frame.width, height: frame.height },
      });
      const p = this.embedAndDecide(track.id, face.crop, frame.ts).finally(() => this.inflight.delete(p));
      this.inflight.add(p);
    });
  }

  private async embedAndDecide(trackId: string, crop: { width: number; height: number; data: Uint8Array }, frameTs: number): Promise<void> {
    const { batcher, holder, metrics, log } = this.deps;
    const camera = this.source.name;
    try {
      const embedding = await batcher.embed(crop);
      metrics.embeddingsTotal.inc();
      const snapshot = holder.current();
      if (!snapshot) return;
      const t0 = process.hrtime.bigint();
      const { decision, result } = this.decider.add(trackId, embedding, snapshot);
      metrics.stageSeconds.observe({ stage: 'match' }, Number(process.hrtime.bigint() - t0) / 1e9);
      metrics.matchesTotal.inc({ result: result.accepted ? 'match' : 'unknown' });
      log.debug({ camera, trackId, accepted: result.accepted, reason: result.reason, candidate: result.candidate, svm: result.svmScore, distance: result.distance }, 'track matched');
      if (decision) await this.deps.onDecision(camera, decision, frameTs);
    } catch (err) {
      log.error({ camera, trackId, err: (err as Error).message }, 'embedding or matching failed for a face');
    }
  }
}
