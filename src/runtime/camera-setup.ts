/**
 * A configured camera → its CameraSource, with the per-camera metrics series started at 0 and kept up to date
 * (camera_up, reconnects). Shared by embedded mode and the ingest service so both report cameras alike.
 */
import type { CameraConfig, Config } from '../config/schema';
import { CameraSource } from '../ingest/camera-source';
import { registerCamera, type FacestreamMetrics } from '../metrics/registry';
import type { Logger } from '../util/log';

/** ffmpeg input options per `hwaccel` setting. */
export const HWACCEL_ARGS: Record<string, string[]> = {
  none: [],
  auto: ['-hwaccel', 'auto'],
  cuda: ['-hwaccel', 'cuda'],
  vaapi: ['-hwaccel', 'vaapi'],
  qsv: ['-hwaccel', 'qsv'],
  videotoolbox: ['-hwaccel', 'videotoolbox'],
};

export interface CameraSetupOptions {
  metrics: FacestreamMetrics;
  log: Logger;
  /** A live stream that ends cleanly counts as ended instead of reconnecting (embedded --exit-when-sources-end). */
  playOnce?: boolean;
}

/** Builds the camera's source (not started) and wires its metrics. Throws (URL masked) on an invalid camera. */
export function createCameraSource(cam: CameraConfig, { metrics, log, playOnce }: CameraSetupOptions): CameraSource {
  const source = new CameraSource({
    name: cam.name,
    url: cam.url,
    fps: cam.fps,
    maxWidth: cam.maxWidth,
    transport: cam.transport,
    hwaccel: HWACCEL_ARGS[cam.hwaccel] ?? [],
    ...(playOnce ? { playOnce: true } : {}),
    log,
  });
  registerCamera(metrics, cam.name);
  // CameraSource itself logs "camera online" / "camera offline" (with the camera name); only the metrics here.
  source.on('online', (i) => metrics.cameraUp.set({ camera: i.camera }, 1));
  source.on('offline', (i) => metrics.cameraUp.set({ camera: i.camera }, 0));
  source.on('reconnecting', (i) => metrics.cameraReconnectsTotal.inc({ camera: i.camera }));
  source.on('ended', (i) => log.info({ camera: i.camera }, 'source ended'));
  return source;
}

/** Checks that a camera can be run (URL, fps, size, transport) without starting it; throws (URL masked) when not. */
export function validateCamera(cam: CameraConfig): void {
  void new CameraSource({ name: cam.name, url: cam.url, fps: cam.fps, maxWidth: cam.maxWidth, transport: cam.transport, hwaccel: HWACCEL_ARGS[cam.hwaccel] ?? [] });
}

/** The face stage's tracker and best-crop settings from the configuration (the same in both modes). */
export function faceStageSettings(config: Config) {
  return {
    tracker: { maxAgeMs: config.tracking.maxAgeMs, minIou: config.tracking.iou },
    fullDetectionIntervalMs: config.detector.fullDetectionIntervalMs,
    bestCrops: {
      maxPerTrack: config.tracking.embedPerTrack,
      minIntervalMs: config.tracking.minIntervalMs,
      gate: { minFaceSize: config.quality.minFaceSize, minBlur: config.quality.minBlur, maxYaw: config.quality.maxYaw, maxPitch: config.quality.maxPitch },
    },
  };
}
