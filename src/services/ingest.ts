/**
 * `facestream ingest`: runs the cameras assigned to this process and publishes their face crops.
 *
 *   cameras topic ──catalog──▶ which cameras exist (every process reads it all)
 *   facestream-ingest group ──sticky camera assigner──▶ which partitions (so which cameras) this process runs
 *   each camera: the shared face stage (runtime/face-stage.ts: decode → detect/align → track → best crops)
 *     → FaceCrop (stamped ingest.decode/detect/align/publish) → faces topic, key = camera
 *
 * Publishing never blocks analysis (crop-publisher.ts: bounded buffer, newest kept, drops counted). Readiness: the
 * Kafka producer (host) and this process's group membership, detail "N cameras running". On shutdown the process
 * leaves the group first (its cameras start elsewhere at once), then stops its cameras and flushes its crops.
 */
import { Counter, Gauge } from 'prom-client';
import type { Config } from '../config/schema';
import { createDetector } from '../detect/detector';
import { forgetCamera, METRIC_PREFIX } from '../metrics/registry';
import type { EmbedderDescriptor } from '../models/descriptor';
import { ModelRegistry } from '../models/registry';
import { createCameraSource, faceStageSettings } from '../runtime/camera-setup';
import { FaceStage, type CropToEmbed } from '../runtime/face-stage';
import { deadLetterFor, deadLetterKey, encodeDeadLetter, encodeFaceCrop, faceCropFromAligned, recordKey, Stage, stampStage, type FaceCrop } from '../schema';
import { CameraCatalog } from './cameras/catalog';
import { IngestMembership } from './cameras/membership';
import { CameraRunner } from './cameras/runner';
import { CropPublisher } from './crop-publisher';
import { CameraStatusPublisher, ensureCameraStatusTopic } from './cameras/status-topic';
import type { ServiceHost } from './host';

/**
 * The catalog readers' throw-away group ids: `${kafka.groupPrefix}ingest-catalog-<uuid>` (the membership group is
 * the host's own, `${kafka.groupPrefix}ingest`).
 */
export const INGEST_CATALOG_GROUP_SUFFIX = 'catalog';

export interface IngestMetrics {
  camerasRunning: Gauge;
  camerasWaiting: Gauge;
  cameraStartsTotal: Counter<'camera'>;
  cameraStopsTotal: Counter<'camera' | 'reason'>;
  cropsTotal: Counter<'camera'>;
  cropsDroppedTotal: Counter<'camera' | 'reason'>;
  publishBuffered: Gauge;
  partitionsOwned: Gauge;
  assignmentsTotal: Counter;
  catalogCameras: Gauge;
  catalogRejectedTotal: Counter;
}

function ingestMetrics(host: ServiceHost): IngestMetrics {
  const p = `${METRIC_PREFIX}ingest_`;
  const registers = [host.metrics.registry];
  return {
    camerasRunning: new Gauge({ name: `${p}cameras_running`, help: 'Cameras this ingest process runs', registers }),
    camerasWaiting: new Gauge({ name: `${p}cameras_waiting`, help: 'Cameras assigned here but not run (services.ingest.maxCameras reached)', registers }),
    cameraStartsTotal: new Counter({ name: `${p}camera_starts_total`, help: 'Cameras started by this process (assignment or catalog change)', labelNames: ['camera'] as const, registers }),
    cameraStopsTotal: new Counter({
      name: `${p}camera_stops_total`,
      help: 'Cameras stopped by this process, by reason (unassigned, removed, disabled, updated, shutdown)',
      labelNames: ['camera', 'reason'] as const,
      registers,
    }),
    cropsTotal: new Counter({ name: `${p}crops_total`, help: 'Face crops chosen for embedding, per camera', labelNames: ['camera'] as const, registers }),
    cropsDroppedTotal: new Counter({
      name: `${p}crops_dropped_total`,
      help: 'Face crops dropped before publishing, per camera and reason (buffer_full: Kafka slow or down; invalid)',
      labelNames: ['camera', 'reason'] as const,
      registers,
    }),
    publishBuffered: new Gauge({ name: `${p}publish_buffered`, help: 'Face crops waiting to be published', registers }),
    partitionsOwned: new Gauge({ name: `${p}partitions_owned`, help: 'Partitions of the cameras topic this process owns', registers }),
    assignmentsTotal: new Counter({ name: `${p}assignments_total`, help: 'Group assignments received (joins and rebalances)', registers }),
    catalogCameras: new Gauge({ name: `${p}catalog_cameras`, help: 'Cameras in the catalog (all processes)', registers }),
    catalogRejectedTotal: new Counter({ name: `${p}catalog_rejected_total`, help: 'Cameras-topic records that are not valid cameras (skipped)', registers }),
  };
}

function embedderDescriptor(config: Config): EmbedderDescriptor {
  // Ingest aligns crops for the embedder (template and input size) but never runs it: the descriptor is enough.
  const d = new ModelRegistry({ modelDir: config.modelDir }).get(config.embedder.name);
  if (d.kind !== 'embedder') throw new Error(`embedder.name: model "${config.embedder.name}" is a ${d.kind}, not an embedder`);
  return d;
}

/** A FaceCrop record of a chosen crop, stamped decode/detect/align (publish is stamped when it is sent). */
export function faceCropOf(c: CropToEmbed, model: string, trackSuffix: string): FaceCrop {
  const decodedAt = c.frame.ts;
  const detectedAt = Math.max(decodedAt, c.detectedAtMs);
  const alignedAt = Math.max(detectedAt, c.alignedAtMs);
  let crop = faceCropFromAligned(c.face, { id: `${c.track.id}.${trackSuffix}`, camera: c.camera, firstSeen: c.track.firstSeen }, c.frame, { model, faceJpeg: c.jpeg });
  crop = stampStage(crop, Stage.ingestDecode, decodedAt);
  crop = stampStage(crop, Stage.ingestDetect, detectedAt);
  return stampStage(crop, Stage.ingestAlign, alignedAt);
}

export async function startIngestService(host: ServiceHost): Promise<void> {
  const { config, log } = host;
  const metrics = ingestMetrics(host);
  const embedder = embedderDescriptor(config);
  const registry = new ModelRegistry({ modelDir: config.modelDir });
  const detector = createDetector(registry.detector(config.detector.name), { maxWidth: config.detector.maxWidth, minFaceSize: config.detector.minFaceSize });
  await detector.warmUp?.(); // fails early on a bad model file, and the first frame does not pay for the first run
  const facesTopic = host.topics.faces;

  const publishedStages = new WeakMap<FaceCrop, FaceCrop['stages']>();
  const publisher = new CropPublisher<FaceCrop>({
    maxBuffered: config.services.ingest.publishBuffer,
    send: (records) => host.producer.send(facesTopic, records),
    prepare: (crop) => {
      const stamped = stampStage(crop, Stage.ingestPublish);
      publishedStages.set(crop, stamped.stages);
      return { key: recordKey(stamped), value: encodeFaceCrop(stamped) };
    },
    camera: (crop) => crop.camera,
    onPublished: (crops) => {
      host.service.publishedTotal.inc({ topic: facesTopic }, crops.length);
      for (const c of crops) host.observeStages(publishedStages.get(c) ?? c.stages);
      metrics.publishBuffered.set(publisher.pending);
    },
    onDropped: (camera, reason, count, detail) => {
      metrics.cropsDroppedTotal.inc({ camera, reason }, count);
      if (reason === 'invalid') log.error({ camera, detail }, 'face crop could not be encoded; dropped');
    },
    onSendError: (err, attempt) => {
      metrics.publishBuffered.set(publisher.pending);
      if (attempt === 1 || attempt % 10 === 0) log.warn({ err: (err as Error).message, attempt, buffered: publisher.pending }, 'publishing face crops failed; retrying (newest crops kept)');
    },
  });

  const stageOptions = {
    detector,
    embedder,
    metrics: host.metrics,
    log,
    ...faceStageSettings(config),
  };

  // Every ingest process reads the whole cameras topic, so a malformed record is seen by all of them: the process
  // that owns its partition writes the dead letter (once per process; after a rebalance the new owner may write
  // it again: dead letters carry topic/partition/offset, by which a reader can tell repeats apart).
  const rejected = new Map<string, { reason: string; record: { partition: number; offset: string; key: Buffer | null; value: Buffer | null } }>();
  const deadLettered = new Set<string>();
  let ownedNow = new Set<number>();
  const deadLetterOwnedRejects = () => {
    for (const [id, { reason, record }] of rejected) {
      if (deadLettered.has(id) || !ownedNow.has(record.partition)) continue;
      deadLettered.add(id);
      const d = deadLetterFor({ topic: host.topics.cameras, partition: record.partition, message: record }, reason, 'ingest');
      host.producer
        .send(host.topics.dlq, [{ key: deadLetterKey(d), value: encodeDeadLetter(d) }])
        .then(() => {
          host.service.deadLettersTotal.inc({ topic: host.topics.cameras });
          log.warn({ topic: host.topics.cameras, partition: record.partition, offset: record.offset, reason }, 'record sent to the dead-letter topic');
        })
        .catch((err: Error) => {
          deadLettered.delete(id);
          log.error({ err: err.message }, 'dead letter of a cameras-topic record not written; retried at the next assignment');
        });
    }
  };

  // Status of the cameras run here, for the management API (GET /cameras/:name/status).
  const status = new CameraStatusPublisher(await ensureCameraStatusTopic(host.kafka, config), host.producer, host.instanceId, log);

  const catalog = await CameraCatalog.open({
    kafka: host.kafka,
    topic: host.topics.cameras,
    groupIdPrefix: `${host.groupId(INGEST_CATALOG_GROUP_SUFFIX)}-`,
    log,
    onRejected: (reason, record) => {
      metrics.catalogRejectedTotal.inc();
      rejected.set(`${record.partition}:${record.offset}`, { reason, record });
      deadLetterOwnedRejects();
    },
  });
  metrics.catalogCameras.set(catalog.size);

  const runner = new CameraRunner({
    catalog,
    maxCameras: config.services.ingest.maxCameras,
    log,
    start: (entry) => {
      const cam = entry.camera;
      const source = createCameraSource(cam, { metrics: host.metrics, log });
      // Track ids are unique per camera run, so a camera restarted here or elsewhere never continues an old track.
      const runTag = Date.now().toString(36);
      const stage = new FaceStage(source, stageOptions, {
        onCrop: (c) => {
          metrics.cropsTotal.inc({ camera: c.camera });
          try {
            publisher.offer(faceCropOf(c, embedder.name, runTag));
          } catch (err) {
            metrics.cropsDroppedTotal.inc({ camera: c.camera, reason: 'invalid' });
            log.error({ camera: c.camera, err: (err as Error).message }, 'face crop could not be built; dropped');
          }
          metrics.publishBuffered.set(publisher.pending);
        },
      });
      status.track(source);
      stage.start();
      return {
        stop: async () => {
          await stage.stop();
          forgetCamera(host.metrics, cam.name);
          await status.untrack(cam.name);
        },
      };
    },
    onStarted: (entry) => {
      metrics.cameraStartsTotal.inc({ camera: entry.camera.name });
      metrics.camerasRunning.set(runner.running.length);
    },
    onStopped: (name, reason) => {
      metrics.cameraStopsTotal.inc({ camera: name, reason });
      metrics.camerasRunning.set(runner.running.length);
    },
  });
  const showCounts = () => {
    metrics.camerasRunning.set(runner.running.length);
    metrics.camerasWaiting.set(runner.waiting.length);
  };

  const membership = new IngestMembership({
    kafka: host.kafka,
    groupId: host.groupId(),
    topic: host.topics.cameras,
    sessionTimeoutMs: config.kafka.sessionTimeoutMs,
    weight: (p) => catalog.weight(p),
    log,
    onAssigned: async (partitions) => {
      metrics.assignmentsTotal.inc();
      metrics.partitionsOwned.set(partitions.length);
      ownedNow = new Set(partitions);
      deadLetterOwnedRejects();
      await runner.setOwned(partitions);
      showCounts();
      log.info({ partitions: partitions.length, cameras: runner.running }, 'camera assignment applied');
    },
  });

  catalog.on('change', (change) => {
    metrics.catalogCameras.set(catalog.size);
    log.info({ camera: change.name, change: !change.before ? 'added' : !change.after ? 'removed' : 'updated', partition: (change.after ?? change.before)!.partition }, 'camera catalog changed');
    void runner.refresh().then(showCounts);
    membership.replan();
  });

  host.readiness('cameras', () => {
    const m = membership.status;
    const running = runner.running.length;
    const waiting = runner.waiting.length;
    const detail = `${running} cameras running${waiting ? `, ${waiting} waiting (services.ingest.maxCameras)` : ''}`;
    if (catalog.problem) return { ok: false, detail: `${detail}; ${catalog.problem}` };
    if (!m.joined) return { ok: false, detail: `${detail}; not in the ingest group (${m.problem ?? 'joining'})` };
    return { ok: true, detail };
  });

  host.onShutdown(async () => {
    // Leave the group first: the other members start these cameras while this process stops them.
    await membership.stop();
    await catalog.close();
    await runner.stopAll();
    status.close();
    showCounts();
    const flushed = await publisher.close(5000);
    if (!flushed) log.warn('some face crops were not published before shutdown (counted as dropped)');
    await detector.close?.();
  });

  await membership.start();
  log.info({ cameras: runner.running, partitions: runner.ownedPartitions.length }, 'ingest running');
}
