/**
 * Prometheus metrics of embedded mode (one process): one prom-client Registry holding every metric
 * definition, exported as a typed object so callers write `metrics.framesTotal.inc({ camera })`.
 *
 * Label values are camera NAMES (config-validated, label-safe), never URLs: URLs can hold credentials and
 * would also make label values unbounded. Histograms carry no camera label (thousands of cameras × buckets
 * would explode the series count); per-camera rates come from the counters.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

export const METRIC_PREFIX = 'facestream_';

/** Pipeline stages timed by `stageSeconds`. */
export const STAGES = ['decode', 'detect', 'align', 'embed', 'match'] as const;
export type Stage = (typeof STAGES)[number];
/** `matchesTotal` result label: a track's embedding matched an identity, or was rejected as unknown. */
export const MATCH_RESULTS = ['match', 'unknown'] as const;
export type MatchResult = (typeof MATCH_RESULTS)[number];
/** `alertsTotal` outcome label: spooled for delivery, suppressed by cooldown, or a duplicate decision. */
export const ALERT_OUTCOMES = ['raised', 'cooldown', 'duplicate'] as const;
export type AlertOutcome = (typeof ALERT_OUTCOMES)[number];
/** `webhookDeliveriesTotal` outcome label: per delivered alert, per failed attempt, per dead-lettered alert. */
export const DELIVERY_OUTCOMES = ['delivered', 'failed', 'dead'] as const;
export type DeliveryOutcome = (typeof DELIVERY_OUTCOMES)[number];

/** 1 ms … 5 s, roughly ×2 per step: per-stage latencies of one frame or one batch. */
export const STAGE_BUCKETS = [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5];
/** Frame-to-alert includes tracking (several frames) and spooling: 10 ms … 30 s. */
export const FRAME_TO_ALERT_BUCKETS = [0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 30];

export interface FacestreamMetrics {
  registry: Registry;
  framesTotal: Counter<'camera'>;
  framesDroppedTotal: Counter<'camera'>;
  facesDetectedTotal: Counter<'camera'>;
  detectionsTotal: Counter<'camera' | 'search'>;
  tracksStartedTotal: Counter<'camera'>;
  embeddingsTotal: Counter;
  matchesTotal: Counter<'result'>;
  alertsTotal: Counter<'outcome'>;
  webhookDeliveriesTotal: Counter<'outcome'>;
  spoolPending: Gauge;
  cameraUp: Gauge<'camera'>;
  cameraReconnectsTotal: Counter<'camera'>;
  /** Seconds per stage; label `stage` is one of STAGES. */
  stageSeconds: Histogram<'stage'>;
  /** Seconds from the frame that completed a match to its alert being spooled. */
  frameToAlertSeconds: Histogram;
  galleryVersion: Gauge;
}

export interface MetricsOptions {
  /** Also collect process/Node.js default metrics (CPU, memory, event loop, GC). Default true. */
  defaultMetrics?: boolean;
}

export function createMetrics(opts: MetricsOptions = {}): FacestreamMetrics {
  const registry = new Registry();
  const registers = [registry];
  const p = METRIC_PREFIX;
  const camera = ['camera'] as const;

  const m: FacestreamMetrics = {
    registry,
    framesTotal: new Counter({ name: `${p}frames_total`, help: 'Frames decoded and analysed, per camera', labelNames: camera, registers }),
    framesDroppedTotal: new Counter({
      name: `${p}frames_dropped_total`,
      help: 'Frames dropped because analysis could not keep up, per camera',
      labelNames: camera,
      registers,
    }),
    facesDetectedTotal: new Counter({ name: `${p}faces_detected_total`, help: 'Faces detected, per camera', labelNames: camera, registers }),
    detectionsTotal: new Counter({
      name: `${p}detections_total`,
      help: 'Frames by how the detection schedule searched them (search: whole | regions | skipped), per camera',
      labelNames: ['camera', 'search'] as const,
      registers,
    }),
    tracksStartedTotal: new Counter({ name: `${p}tracks_started_total`, help: 'Face tracks started, per camera', labelNames: camera, registers }),
    embeddingsTotal: new Counter({ name: `${p}embeddings_total`, help: 'Face embeddings computed', registers }),
    matchesTotal: new Counter({
      name: `${p}matches_total`,
      help: 'Gallery match decisions by result (match | unknown)',
      labelNames: ['result'] as const,
      registers,
    }),
    alertsTotal: new Counter({
      name: `${p}alerts_total`,
      help: 'Alert decisions by outcome (raised | cooldown | duplicate)',
      labelNames: ['outcome'] as const,
      registers,
    }),
    webhookDeliveriesTotal: new Counter({
      name: `${p}webhook_deliveries_total`,
      help: 'Webhook deliveries by outcome (delivered alerts | failed attempts | dead-lettered alerts)',
      labelNames: ['outcome'] as const,
      registers,
    }),
    spoolPending: new Gauge({ name: `${p}spool_pending`, help: 'Alerts spooled and not yet delivered (all webhooks)', registers }),
    cameraUp: new Gauge({ name: `${p}camera_up`, help: '1 while a camera delivers frames, else 0', labelNames: camera, registers }),
    cameraReconnectsTotal: new Counter({
      name: `${p}camera_reconnects_total`,
      help: 'Camera (re)connection attempts after a failure, per camera',
      labelNames: camera,
      registers,
    }),
    stageSeconds: new Histogram({
      name: `${p}stage_duration_seconds`,
      help: 'Duration of pipeline stages (decode, detect, align, embed, match)',
      labelNames: ['stage'] as const,
      buckets: STAGE_BUCKETS,
      registers,
    }),
    frameToAlertSeconds: new Histogram({
      name: `${p}frame_to_alert_seconds`,
      help: 'Time from the frame that completed a match to the alert being spooled',
      buckets: FRAME_TO_ALERT_BUCKETS,
      registers,
    }),
    galleryVersion: new Gauge({ name: `${p}gallery_version`, help: 'Version of the gallery in use', registers }),
  };

  // Known label values start at 0 so rates and alerts work before the first event.
  for (const result of MATCH_RESULTS) m.matchesTotal.inc({ result }, 0);
  for (const outcome of ALERT_OUTCOMES) m.alertsTotal.inc({ outcome }, 0);
  for (const outcome of DELIVERY_OUTCOMES) m.webhookDeliveriesTotal.inc({ outcome }, 0);
  m.spoolPending.set(0);

  if (opts.defaultMetrics ?? true) collectDefaultMetrics({ register: registry, prefix: p });
  return m;
}

/** Starts a camera's series at 0 (so a camera that never produces a frame still shows up). */
export function registerCamera(m: FacestreamMetrics, camera: string): void {
  for (const c of [m.framesTotal, m.framesDroppedTotal, m.facesDetectedTotal, m.tracksStartedTotal, m.cameraReconnectsTotal]) {
    c.inc({ camera }, 0);
  }
  m.cameraUp.set({ camera }, 0);
}

/** Removes a camera's series (camera removed from the configuration). */
export function forgetCamera(m: FacestreamMetrics, camera: string): void {
  for (const c of [m.framesTotal, m.framesDroppedTotal, m.facesDetectedTotal, m.tracksStartedTotal, m.cameraReconnectsTotal]) {
    c.remove({ camera });
  }
  m.cameraUp.remove({ camera });
}

/** Observes the seconds since `startNs` (process.hrtime.bigint()) for a stage. */
export function observeStage(m: FacestreamMetrics, stage: Stage, startNs: bigint): void {
  m.stageSeconds.observe({ stage }, Number(process.hrtime.bigint() - startNs) / 1e9);
}
