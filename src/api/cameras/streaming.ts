/**
 * The streaming side of the `facestream api` process — its cameras and its recent alerts — for either mode:
 *   embedded     an EmbeddedRuntime in this process (no HTTP server of its own: the API serves /metrics, /healthz
 *                and /readyz; started with no gallery allowed, since identities are enrolled through the API), the
 *                cameras file of the store, and an in-memory feed of the runtime's alerts
 *   distributed  the Kafka cameras topic and the ingest processes' status topic (distributed-registry.ts,
 *                services/cameras/status-topic.ts), and the Redis stream of alert summaries the alerts service
 *                writes (alerts-feed/redis-feed.ts). Kafka unreachable at start does not keep the API down: the
 *                cameras routes answer 503 and /readyz says why until a retry (every KAFKA_RETRY_MS) connects.
 */
import type { Config } from '../../config/schema';
import type { FacestreamMetrics } from '../../metrics/registry';
import { EmbeddedRuntime } from '../../runtime/embedded';
import { openCameraStatusReader } from '../../services/cameras/status-topic';
import type { Logger } from '../../util/log';
import { MemoryAlertFeed, type AlertFeed } from '../alerts-feed/feed';
import { RedisAlertFeed } from '../alerts-feed/redis-feed';
import type { ApiContext } from '../context';
import { DistributedCameraRegistry } from './distributed-registry';
import { EmbeddedCameraRegistry } from './embedded-registry';
import type { CameraRegistry } from './registry';

export const KAFKA_RETRY_MS = 10_000;

type Check = { ok: boolean; detail?: string };

export interface Streaming {
  /** Undefined while the distributed registry cannot reach Kafka. */
  readonly cameras: CameraRegistry | undefined;
  alerts: AlertFeed;
  /** Embedded mode: the runtime (the gallery-access code calls runtime.reloadGallery() after a change). */
  runtime?: EmbeddedRuntime;
  /** Readiness of the streaming side (model, cameras, alert spool). */
  readiness(): Record<string, Check>;
  close(): Promise<void>;
}

export interface StreamingOptions {
  log: Logger;
  /** The metrics the API's /metrics serves (camera, frame and alert series are recorded into them). */
  metrics?: FacestreamMetrics;
  /** Called when the distributed registry connects (at start or on a later retry). */
  onCameras?: (cameras: CameraRegistry) => void;
}

/** Starts the embedded runtime (models, spool, cameras of the store) and its registry and feed. */
export async function openEmbeddedStreaming(config: Config, options: StreamingOptions): Promise<Streaming> {
  const runtime = new EmbeddedRuntime({ ...config, cameras: [] }, { log: options.log, metrics: options.metrics, serveHttp: false, allowEmptyGallery: true });
  const feed = new MemoryAlertFeed();
  runtime.on('alert', (a) => feed.add(a));
  try {
    await runtime.start();
  } catch (err) {
    await runtime.stop().catch(() => undefined);
    throw err;
  }
  let cameras: EmbeddedCameraRegistry;
  try {
    cameras = await EmbeddedCameraRegistry.open({ dir: config.store, runtime, seed: config.cameras, log: options.log });
  } catch (err) {
    await runtime.stop().catch(() => undefined);
    throw err;
  }
  options.onCameras?.(cameras);
  return {
    cameras,
    alerts: feed,
    runtime,
    readiness() {
      return { ...runtime.readiness().checks, cameras: cameras.health() };
    },
    async close() {
      await cameras.close();
      await feed.close();
      await runtime.stop();
    },
  };
}

/** Distributed mode: the cameras topic (with the ingest processes' status) and the Redis stream of recent alerts. */
export async function openDistributedStreaming(config: Config, options: StreamingOptions): Promise<Streaming> {
  const redisUrl = config.redis.url;
  if (!redisUrl) throw new Error('distributed mode: redis.url is not set (recent alerts are read from Redis)');
  const { log } = options;
  const alerts = new RedisAlertFeed(redisUrl, config.redis.prefix, log);
  let cameras: DistributedCameraRegistry | undefined;
  let problem = 'connecting to Kafka';
  let closed = false;
  let timer: NodeJS.Timeout | undefined;

  const connect = async (): Promise<void> => {
    try {
      const status = await openCameraStatusReader(config, { log });
      try {
        cameras = await DistributedCameraRegistry.open(config, { log, status });
      } catch (err) {
        await status.close();
        throw err;
      }
      if (closed) return void (await cameras.close());
      options.onCameras?.(cameras);
      log.info('cameras: following the cameras and camera-status topics');
    } catch (err) {
      problem = `Kafka not reachable (${(err as Error).message}); retrying every ${KAFKA_RETRY_MS / 1000} s`;
      log.error({ err: (err as Error).message }, 'cameras: cannot open the cameras topic; the cameras routes answer 503 until Kafka is reachable');
      if (!closed) timer = setTimeout(() => void connect(), KAFKA_RETRY_MS);
    }
  };
  await connect();

  return {
    get cameras() {
      return cameras;
    },
    alerts,
    readiness: () => ({ cameras: cameras ? cameras.health() : { ok: false, detail: problem } }),
    async close() {
      closed = true;
      clearTimeout(timer);
      await cameras?.close();
      await alerts.close();
    },
  };
}

/**
 * Opens the streaming side for the context's mode and plugs it in: ctx.cameras / ctx.alerts / ctx.runtime, the
 * readiness checks, an erasure hook (the feed forgets the identity's alerts; the runtime retrains at once), the
 * runtime following the gallery changes this process saves, and closing with the server.
 */
export async function attachStreaming(ctx: ApiContext, options: { metrics?: FacestreamMetrics } = {}): Promise<Streaming> {
  const streamingOptions: StreamingOptions = { log: ctx.log, metrics: options.metrics, onCameras: (c) => (ctx.cameras = c) };
  const streaming = ctx.mode === 'distributed' ? await openDistributedStreaming(ctx.config, streamingOptions) : await openEmbeddedStreaming(ctx.config, streamingOptions);
  ctx.alerts = streaming.alerts;
  ctx.runtime = streaming.runtime;
  const runtime = streaming.runtime;
  if (runtime) ctx.gallery.onChange(() => void runtime.reloadGallery());
  ctx.erasureHooks.push(async (identityId) => {
    const forgotten = await streaming.alerts.forget(identityId);
    const version = runtime ? await runtime.reloadGallery() : undefined;
    const unsent = runtime ? await runtime.eraseIdentity(identityId) : 0;
    return `recent alerts forgotten: ${forgotten}${runtime ? `; undelivered alerts erased: ${unsent}; stream matcher on gallery v${version ?? 0}` : ''}`;
  });
  for (const name of Object.keys(streaming.readiness())) {
    ctx.readiness.set(name, () => streaming.readiness()[name] ?? { ok: false, detail: 'unknown' });
  }
  ctx.onClose(() => streaming.close());
  return streaming;
}

declare module '../context' {
  interface ApiContext {
    /** The cameras (embedded: run in this process; distributed: the cameras topic). */
    cameras?: CameraRegistry;
    /** Recent alerts (summaries, no face pictures). */
    alerts?: AlertFeed;
    /** Embedded mode: the runtime running the cameras in this process. */
    runtime?: EmbeddedRuntime;
  }
}
