/**
 * One camera in embedded mode: the face stage (face-stage.ts: frames → detect/align/quality → tracker → best
 * crops) → embed (shared batcher) → track decision → the caller's alert path (cooldown → alert). This file only
 * wires the embedding and the decision onto the shared face stage and records their metrics.
 */
import type { FaceDetector } from '../detect/detector';
import type { EmbedderDescriptor } from '../models/descriptor';
import type { CameraSource } from '../ingest/camera-source';
import type { QualityGate } from '../track/best-crops';
import type { TrackerOptions } from '../track/tracker';
import type { Logger } from '../util/log';
import type { FacestreamMetrics } from '../metrics/registry';
import type { EmbedBatcher } from './embed-batcher';
import { FaceStage, type CropToEmbed } from './face-stage';
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
  fullDetectionIntervalMs?: number;
  /** Called for each alert decision; returns when the alert is durably spooled (or refused by cooldown). */
  onDecision: (camera: string, decision: AlertDecision, frameTs: number) => Promise<void>;
}

export class CameraPipeline {
  private readonly stage: FaceStage;
  private readonly decider = new TrackDecider();
  private readonly inflight = new Set<Promise<void>>();

  constructor(readonly source: CameraSource, private readonly deps: CameraPipelineDeps) {
    this.stage = new FaceStage(
      source,
      {
        detector: deps.detector,
        embedder: deps.embedder,
        metrics: deps.metrics,
        log: deps.log,
        tracker: deps.tracker,
        bestCrops: deps.bestCrops,
        fullDetectionIntervalMs: deps.fullDetectionIntervalMs,
      },
      {
        onSighting: (track, ts) => this.decider.seen(track.id, track.firstSeen, ts),
        onTrackEnd: (trackId) => this.decider.forget(trackId),
        onCrop: (crop) => this.embedCrop(crop),
      },
    );
  }

  get name(): string {
    return this.source.name;
  }

  /** Starts the source and the analysis loop; `done` resolves when the source ends or is stopped. */
  start(): void {
    this.stage.start();
  }

  /** Resolves when the frame loop has finished and every embedding/decision in flight has settled. */
  async done(): Promise<void> {
    await this.stage.done();
    while (this.inflight.size > 0) await Promise.allSettled([...this.inflight]);
  }

  async stop(): Promise<void> {
    await this.stage.stop();
    await this.done();
  }

  private embedCrop({ track, frame, face, jpeg }: CropToEmbed): void {
    this.decider.picture(track.id, {
      box: face.detection.box,
      ts: frame.ts,
      quality: face.quality.score,
      jpeg,
      detectorScore: face.detection.score,
      frameSize: { width: frame.width, height: frame.height },
    });
    const p = this.embedAndDecide(track.id, face.crop, frame.ts).finally(() => this.inflight.delete(p));
    this.inflight.add(p);
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
