/**
 * Embedded mode: the whole pipeline in one process, no Kafka and no Redis. Cameras → CameraPipeline each →
 * shared embedder (batched) → matcher (background-trained, swapped atomically) → cooldown → durable alert spool →
 * signed webhooks. /metrics, /healthz and /readyz on the HTTP port (unless the caller serves them: the API process).
 *
 * Cameras can be added, replaced and removed while it runs (addCamera / replaceCamera / removeCamera, used by the
 * management API); a camera is never restarted by a change to another. Each spooled alert is also emitted as an
 * 'alert' event (the API's recent-alerts feed).
 */
import { EventEmitter } from 'node:events';
import { statSync } from 'node:fs';
import { AlertDispatcher } from '../alerts/dispatcher';
import { buildAlert, type Alert } from '../alerts/alert';
import { Cooldown } from '../alerts/cooldown';
import type { CameraConfig, Config } from '../config/schema';
import { createDetector, type FaceDetector } from '../detect/detector';
import { Embedder } from '../embed/embedder';
import { startHttpServer, type ReadinessReport } from '../http/server';
import { openStore, type GalleryStore } from '../match/store';
import { ModelHolder } from '../match/trainer';
import { createMetrics, forgetCamera, type FacestreamMetrics } from '../metrics/registry';
import { ModelRegistry } from '../models/registry';
import { logger, type Logger } from '../util/log';
import { CameraPipeline } from './camera-pipeline';
import { createCameraSource, faceStageSettings, validateCamera } from './camera-setup';
import { FpsMeter, idleStatus, sourceStatus, type CameraStatus } from './camera-status';
import { EmbedBatcher } from './embed-batcher';
import type { AlertDecision } from './track-decider';

export interface EmbeddedOptions {
  /** Stop when every source has ended (files), after delivering pending alerts. */
  exitWhenSourcesEnd?: boolean;
  /** How long to wait for pending webhooks at exit (default 60 s). */
  flushTimeoutMs?: number;
  log?: Logger;
  /** Metrics to record into (default: a new registry). The API process passes the one its /metrics serves. */
  metrics?: FacestreamMetrics;
  /** Serve /metrics, /healthz and /readyz on http.port (default true; the API process serves them itself). */
  serveHttp?: boolean;
  /**
   * Start with no gallery in the store (default false: an error). Faces are analysed but nobody is matched until
   * identities are enrolled (the store is watched, and reloadGallery() picks a change up at once).
   */
  allowEmptyGallery?: boolean;
}

export interface EmbeddedRuntimeEvents {
  /** An alert was spooled for delivery (cooldown passed, not a duplicate). Holds the face JPEG: never log it. */
  alert: [Alert];
}

/** A camera of the runtime: its pipeline and frame-rate meter while it runs (enabled cameras). */
interface RuntimeCamera {
  pipeline?: CameraPipeline;
  meter?: FpsMeter;
}

export class EmbeddedRuntime extends EventEmitter<EmbeddedRuntimeEvents> {
  readonly metrics: FacestreamMetrics;
  readonly log: Logger;
  private detector!: FaceDetector;
  private embedder!: Embedder;
  private batcher!: EmbedBatcher;
  private holder!: ModelHolder;
  private store!: GalleryStore;
  private dispatcher!: AlertDispatcher;
  private cooldown!: Cooldown;
  private http: { address: string; port: number; close(): Promise<void> } | undefined;
  private readonly cameras = new Map<string, RuntimeCamera>();
  private storeWatch: NodeJS.Timeout | undefined;
  private storeMtime = 0;
  private started = false;
  private stopping = false;

  constructor(readonly config: Config, private readonly options: EmbeddedOptions = {}) {
    super();
    this.metrics = options.metrics ?? createMetrics();
    this.log = options.log ?? logger();
  }

  get httpPort(): number | undefined {
    return this.http?.port;
  }

  async start(): Promise<void> {
    const { config, log, metrics } = this;
    const registry = new ModelRegistry({ modelDir: config.modelDir });
    const embedderModel = registry.embedder(config.embedder.name);
    this.detector = createDetector(registry.detector(config.detector.name), {
      maxWidth: config.detector.maxWidth,
      minFaceSize: config.detector.minFaceSize,
    });
    this.embedder = await Embedder.create(embedderModel, {
      intraOpNumThreads: config.embedder.threads,
      executionProviders: config.embedder.executionProviders,
      maxBatch: config.embedder.maxBatch,
    });
    await this.detector.warmUp?.();
    log.info({ embedder: config.embedder.name, provider: this.embedder.provider, detector: config.detector.name }, 'models loaded');

    this.store = await openStore(config.store);
    const gallery = await this.store.load();
    if (!gallery && !this.options.allowEmptyGallery) {
      throw new Error(`no gallery in ${config.store}: enrol identities first (facestream enroll --gallery DIR --store ${config.store})`);
    }
    this.holder = new ModelHolder();
    this.holder.on('swapped', (s) => {
      metrics.galleryVersion.set(s.gallery.version);
      log.info({ galleryVersion: s.gallery.version, identities: s.gallery.identities.length }, 'matching model ready');
    });
    this.holder.on('train-error', (err: Error) => log.error({ err: err.message }, 'gallery retraining failed; matching continues on the previous model'));
    if (gallery) {
      this.checkEmbedder(gallery.embedder);
      this.storeMtime = statSync(this.store.file).mtimeMs;
      this.holder.requestRetrain(this.withOverrides(gallery));
      await this.holder.ready;
    } else {
      log.info({ store: config.store }, 'no gallery yet: faces are analysed, nobody is matched until identities are enrolled');
    }
    this.storeWatch = setInterval(() => void this.reloadStoreIfChanged(), 2000);
    this.storeWatch.unref();

    this.cooldown = new Cooldown({ windowMs: config.alerts.cooldownSec * 1000 });
    this.dispatcher = new AlertDispatcher({
      webhooks: config.alerts.webhooks.map((w) => ({ url: w.url, secret: w.secret! })),
      spoolDir: config.alerts.spoolDir,
      timeoutMs: config.alerts.timeoutMs,
      backoff: { initialMs: config.alerts.backoff.initialMs, maxMs: config.alerts.backoff.maxMs },
      maxClientErrorAttempts: config.alerts.maxClientErrorAttempts,
      metrics,
      logger: log,
    });
    await this.dispatcher.start();
    if (config.alerts.webhooks.length === 0) log.warn('no webhook configured: alerts are logged (and listed by the API) but sent nowhere');

    if (this.options.serveHttp ?? true) {
      this.http = await startHttpServer({
        port: config.http.port,
        host: config.http.host,
        registry: metrics.registry,
        readiness: () => this.readiness(),
      });
      log.info({ metrics: `${this.http.address}/metrics` }, 'metrics and health endpoints up');
    }

    this.batcher = new EmbedBatcher(this.embedder, {
      maxBatch: config.embedder.maxBatch,
      maxWaitMs: 10,
      onBatch: (_n, ms) => metrics.stageSeconds.observe({ stage: 'embed' }, ms / 1000),
    });
    this.started = true;
    for (const cam of config.cameras) this.addCamera(cam);
    log.info({ cameras: this.runningCameras() }, 'cameras started');
  }

  /** Resolves when every running source has ended (files); live sources never end on their own. */
  async sourcesEnded(): Promise<void> {
    await Promise.all(this.pipelines().map((p) => p.done()));
  }

  /** Names of the cameras that run now (enabled ones). */
  runningCameras(): string[] {
    return this.pipelines().map((p) => p.name);
  }

  /**
   * Adds a camera and starts it when enabled. Throws (URL masked) when the name is taken or the camera is invalid;
   * nothing is changed then. Only after start().
   */
  addCamera(cam: CameraConfig): void {
    if (!this.started || this.stopping) throw new Error('the runtime is not running');
    if (this.cameras.has(cam.name)) throw new Error(`camera "${cam.name}" already exists`);
    const entry: RuntimeCamera = {};
    if (cam.enabled) {
      const pipeline = this.createPipeline(cam); // throws on an invalid camera, before anything is registered
      entry.pipeline = pipeline;
      entry.meter = new FpsMeter(pipeline.source);
      pipeline.start();
    }
    this.cameras.set(cam.name, entry);
  }

  /** Replaces a camera's settings: its pipeline is stopped and, when enabled, started again with the new ones. */
  async replaceCamera(cam: CameraConfig): Promise<void> {
    const before = this.cameras.get(cam.name);
    if (!before) throw new Error(`no camera named "${cam.name}"`);
    if (cam.enabled) validateCamera(cam); // a bad camera changes nothing
    await this.removeCamera(cam.name);
    this.addCamera(cam);
  }

  /** Stops and forgets a camera (its metric series too). Returns false when there was none of that name. */
  async removeCamera(name: string): Promise<boolean> {
    const entry = this.cameras.get(name);
    if (!entry) return false;
    this.cameras.delete(name);
    if (entry.pipeline) {
      await entry.pipeline.stop();
      forgetCamera(this.metrics, name);
    }
    this.log.info({ camera: name }, 'camera removed');
    return true;
  }

  /** The status of a camera (disabled cameras report state "disabled"), or undefined when there is none. */
  cameraStatus(name: string): CameraStatus | undefined {
    const entry = this.cameras.get(name);
    if (!entry) return undefined;
    if (!entry.pipeline || !entry.meter) return idleStatus(name, 'disabled');
    return sourceStatus(entry.pipeline.source, entry.meter);
  }

  /**
   * Reloads the gallery from the store now (after the API changed it) instead of at the next store poll, and
   * resolves once the stream's matcher runs on it (an erased identity is then gone from this process's matching).
   * Returns the gallery version now matched against, or undefined when nothing is enrolled.
   */
  async reloadGallery(): Promise<number | undefined> {
    await this.reloadStoreIfChanged(true);
    if (this.storeMtime !== 0) await this.holder.ready.catch(() => undefined);
    return this.holder.current()?.gallery.version;
  }

  /** Erasure: drops the identity's undelivered alerts (they hold face pictures) from the webhook spools. */
  async eraseIdentity(identityId: string): Promise<number> {
    return this.dispatcher ? this.dispatcher.eraseIdentity(identityId) : 0;
  }

  private pipelines(): CameraPipeline[] {
    return [...this.cameras.values()].flatMap((c) => (c.pipeline ? [c.pipeline] : []));
  }

  private createPipeline(cam: CameraConfig): CameraPipeline {
    const { metrics, log, config } = this;
    // A live stream that ends cleanly (the server sent end-of-stream) counts as ended with exitWhenSourcesEnd;
    // otherwise live sources reconnect forever and --exit-when-sources-end could never exit with an RTSP camera.
    const source = createCameraSource(cam, { metrics, log, playOnce: this.options.exitWhenSourcesEnd });
    return new CameraPipeline(source, {
      detector: this.detector,
      embedder: this.embedder.descriptor,
      batcher: this.batcher,
      holder: this.holder,
      metrics,
      log,
      ...faceStageSettings(config),
      onDecision: (camera, decision, frameTs) => this.raise(camera, decision, frameTs),
    });
  }

  private checkEmbedder(embedder: string): void {
    if (embedder !== this.config.embedder.name) {
      throw new Error(`the gallery in ${this.config.store} holds "${embedder}" embeddings but the embedder is "${this.config.embedder.name}"; re-enrol or choose that embedder`);
    }
  }

  /** Runs until the sources end (with exitWhenSourcesEnd) and returns after pending alerts are delivered. */
  async runToEnd(): Promise<boolean> {
    await this.sourcesEnded();
    const delivered = await this.dispatcher.flush(this.options.flushTimeoutMs ?? 60_000);
    if (!delivered) this.log.warn({ pending: this.dispatcher.pending }, 'some alerts are still undelivered; they stay in the spool for the next start');
    return delivered;
  }

  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    if (this.storeWatch) clearInterval(this.storeWatch);
    await Promise.allSettled(this.pipelines().map((p) => p.stop()));
    await this.dispatcher?.stop();
    await this.http?.close();
    await this.holder?.close();
    await this.embedder?.close();
    await this.detector?.close?.();
  }

  private withOverrides<G extends { thresholds: { svm: number; distance: number } }>(gallery: G): G {
    const { svm, distance } = this.config.matching;
    if (svm === undefined && distance === undefined) return gallery;
    return { ...gallery, thresholds: { ...gallery.thresholds, ...(svm !== undefined ? { svm } : {}), ...(distance !== undefined ? { distance } : {}) } };
  }

  private async reloadStoreIfChanged(force = false): Promise<void> {
    try {
      let mtime: number;
      try {
        mtime = statSync(this.store.file).mtimeMs;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT' && this.options.allowEmptyGallery) return; // nothing enrolled yet
        throw err;
      }
      if (mtime === this.storeMtime && !force) return;
      this.storeMtime = mtime;
      const gallery = await this.store.load();
      if (gallery) {
        this.checkEmbedder(gallery.embedder);
        this.log.info({ galleryVersion: gallery.version }, 'gallery changed on disk; retraining in the background');
        this.holder.requestRetrain(this.withOverrides(gallery));
      }
    } catch (err) {
      this.log.error({ err: (err as Error).message }, 'cannot reload the gallery store; matching continues on the current model');
    }
  }

  private async raise(camera: string, decision: AlertDecision, frameTs: number): Promise<void> {
    const { metrics } = this;
    if (!this.cooldown.tryAcquire(decision.identity.id, camera)) {
      metrics.alertsTotal.inc({ outcome: 'cooldown' });
      this.log.info({ camera, identity: decision.identity.id, trackId: decision.trackId }, 'match within the cooldown window; no alert');
      return;
    }
    const alert = buildAlert({
      camera,
      identity: decision.identity,
      watchlists: decision.watchlists,
      scores: { svm: decision.result.svmScore, distance: decision.result.distance, detector: decision.face.detectorScore },
      trackId: decision.trackId,
      firstSeen: decision.firstSeen,
      lastSeen: decision.lastSeen,
      box: decision.face.box,
      frameSize: decision.face.frameSize,
      faceJpeg: decision.face.jpeg,
    });
    // Without a webhook (an API process may run so) the alert is only logged and listed; cooldown still applies.
    const fresh = this.dispatcher.deliverers.length === 0 ? true : await this.dispatcher.enqueue(alert);
    metrics.alertsTotal.inc({ outcome: fresh ? 'raised' : 'duplicate' });
    if (fresh) {
      metrics.frameToAlertSeconds.observe((Date.now() - frameTs) / 1000);
      try {
        this.emit('alert', alert);
      } catch (err) {
        this.log.error({ err: (err as Error).message }, 'an alert listener failed');
      }
    }
    this.log.info({ camera, identity: decision.identity.id, watchlists: decision.watchlists, alertId: alert.id, trackId: decision.trackId }, 'watchlist alert');
  }

  /** Readiness: the matching model is live (or, with allowEmptyGallery, nothing is enrolled yet). */
  readiness(): ReadinessReport {
    const pipelines = this.pipelines();
    const up = pipelines.filter((p) => p.source.stats.online).length;
    const snapshot = this.holder?.current();
    const empty = !snapshot && !!this.options.allowEmptyGallery && this.storeMtime === 0;
    const model = !!snapshot || empty;
    const pending = this.dispatcher?.pending ?? 0;
    return {
      ready: model,
      checks: {
        model: { ok: model, detail: snapshot ? `gallery v${snapshot.gallery.version}` : empty ? 'no gallery yet (nothing enrolled)' : 'training' },
        cameras: { ok: true, detail: `${up}/${pipelines.length} cameras up` },
        alerts: { ok: true, detail: `${pending} alerts pending delivery` },
      },
    };
  }
}
