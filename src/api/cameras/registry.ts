/**
 * The cameras the management API manages, in either mode:
 *   embedded     EmbeddedCameraRegistry: persisted in <store>/cameras.json (0600), run by the embedded runtime
 *                inside the `facestream api` process, changed while it runs (no restart)
 *   distributed  DistributedCameraRegistry: the compacted Kafka cameras topic (services/cameras/admin.ts); the
 *                ingest processes run them and publish their status (services/cameras/status-topic.ts)
 *
 * What leaves a registry is a CameraView: the URL masked (`rtsp://***@host/…`), never the stored credentials.
 * A PATCH that does not send `url` keeps the stored one, so changing the rate never needs the password again.
 */
import type { CameraConfig } from '../../config/schema';
import { maskSourceUrl, scrubSecrets } from '../../ingest/source-url';
import type { CameraStatus } from '../../runtime/camera-status';
import { hasCredentials } from './url';

/** A camera as the API shows it. */
export interface CameraView {
  name: string;
  /** Credentials and secret query values replaced by `***`. */
  url: string;
  /** Whether the stored URL carries credentials (they are kept, never shown). */
  hasCredentials: boolean;
  fps: number;
  maxWidth: number;
  transport: CameraConfig['transport'];
  enabled: boolean;
  hwaccel: CameraConfig['hwaccel'];
  /** When it was last written (ISO). */
  updatedAt: string;
}

/** The fields a PATCH may change (all optional). */
export type CameraPatch = Partial<Omit<CameraConfig, 'name'>>;

/** A stored camera: its full configuration (URL with credentials) and when it was written. */
export interface StoredCamera extends CameraConfig {
  updatedAtMs: number;
}

export interface CameraRegistry {
  readonly mode: 'embedded' | 'distributed';
  list(): Promise<CameraView[]>;
  get(name: string): Promise<CameraView | undefined>;
  /** Adds a camera; ApiError 409 when the name is taken, 400 when it cannot be run. */
  create(camera: CameraConfig): Promise<CameraView>;
  /** Changes a camera; ApiError 404 when there is none, 400 when the result cannot be run. */
  update(name: string, patch: CameraPatch): Promise<CameraView>;
  /** Removes a camera; false when there was none. */
  remove(name: string): Promise<boolean>;
  /** The camera's status; undefined when there is no such camera. */
  status(name: string): Promise<CameraStatus | undefined>;
  /** A readiness check for /readyz. */
  health(): { ok: boolean; detail: string };
  close(): Promise<void>;
}

export function cameraView(c: StoredCamera): CameraView {
  return {
    name: c.name,
    url: maskSourceUrl(c.url),
    hasCredentials: hasCredentials(c.url),
    fps: c.fps,
    maxWidth: c.maxWidth,
    transport: c.transport,
    enabled: c.enabled,
    hwaccel: c.hwaccel,
    updatedAt: new Date(c.updatedAtMs).toISOString(),
  };
}

/** A status safe to return: its error text scrubbed of the camera URL's secrets once more. */
export function safeStatus(status: CameraStatus, url: string): CameraStatus {
  return status.lastError === null ? status : { ...status, lastError: scrubSecrets(status.lastError, url) };
}

/** The camera a PATCH makes (undefined fields keep their value). */
export function patched(before: StoredCamera, patch: CameraPatch): CameraConfig {
  const out: CameraConfig = { ...before };
  for (const [k, v] of Object.entries(patch)) if (v !== undefined) (out as unknown as Record<string, unknown>)[k] = v;
  delete (out as Partial<StoredCamera>).updatedAtMs;
  return out;
}

/** Whether two cameras run the same way (everything but when they were written). */
export function sameSettings(a: CameraConfig, b: CameraConfig): boolean {
  return a.url === b.url && a.fps === b.fps && a.maxWidth === b.maxWidth && a.transport === b.transport && a.enabled === b.enabled && a.hwaccel === b.hwaccel;
}

/** Runs async operations one at a time, in call order (each camera change sees the result of the previous one). */
export class SerialQueue {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.tail.then(fn, fn);
    this.tail = next.catch(() => undefined);
    return next;
  }
}
