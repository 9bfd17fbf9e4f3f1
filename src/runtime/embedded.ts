/**
 * Embedded mode: the whole pipeline in one process, no Kafka and no Redis. Cameras → CameraPipeline each →
 * shared embedder (batched) → matcher (background-trained, swapped atomically) → cooldown → durable alert spool →
 * signed webhooks. /metrics, /healthz and /readyz on the HTTP port.
 */
import { statSync } from 'node:fs';
import { AlertDispatcher } from '../alerts/dispatcher';
import { buildAlert } from '../alerts/alert';
import { Cooldown } from '../alerts/cooldown';
import type { Config } from '../config/schema';
import { createDetector, type FaceDetector } from '../detect/detector';
import { Embedder } from '../embed/embedder';
import { startHttpServer, type ReadinessReport } from '../http/server';
import { openStore, type GalleryStore } from '../match/store';
import { ModelHolder } from '../match/trainer';
import { createMetrics, type FacestreamMetrics } from '../metrics/registry';
import { ModelRegistry } from '../models/registry';
import { logger, type Logger } from '../util/log';
import { CameraPipeline } from './camera-pipeline';
import { createCameraSource, faceStageSettings } from './camera-setup';
import { EmbedBatcher } from './embed-batcher';
import type { AlertDecision } from './track-decider';

export interface EmbeddedOptions {
  /** Stop when every source has ended (files), after delivering pending alerts. */
  exitWhenSourcesEnd?: boolean;
  /** How long to wait for pending webhooks at exit (default 60 s). */
  flushTimeoutMs?: number;
  log?: Logger;
}

export class EmbeddedRuntime {
  readonly metrics: FacestreamMetrics;
  readonly log: Logger;
  private detector!: FaceDetector;
  private embedder!: Embedder;
  private holder!: ModelHolder;
  private store!: GalleryStore;
  private dispatcher!: AlertDispatcher;
  private cooldown!: Cooldown;
  private http: { address: string; port: number; close(): Promise<void> } | undefined;
  private pipelines: CameraPipeline[] = [];
  private storeWatch: NodeJS.Timeout | undefined;
  private storeMtime = 0;
  private stopping = false;

  constructor(readonly config: Config, private readonly options: EmbeddedOptions = {}) {
    this.metrics = createMetrics();
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
    log.info({ embedder: config.embedder.name, provider: this.embedder.provider, detector: config.detector.name }, 'models loaded');

    this.store = await openStore(config.store);
    const gallery = await this.store.load();
    if (!gallery) throw new Error(`no gallery in ${config.store}: enrol identities first (facestream enroll --gallery DIR --store ${config.store})`);
    if (gallery.embedder !== config.embedder.name) {
      throw new Error(`the gallery in ${config.store} holds "${gallery.embedder}" embeddings but the embedder is "${config.embedder.name}"; re-enrol or choose that embedder`);
    }
    this.storeMtime = statSync(this.store.file).mtimeMs;
    this.holder = new ModelHolder();
    this.holder.on('swapped', (s) => {
      metrics.galleryVersion.set(s.gallery.version);
      log.info({ galleryVersion: s.gallery.version, identities: s.gallery.identities.length }, 'matching model ready');
    });
    this.holder.on('train-error', (err: Error) => log.error({ err: err.message }, 'gallery retraining failed; matching continues on the previous model'));
    this.holder.requestRetrain(this.withOverrides(gallery));
    await this.holder.ready;
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

    this.http = await startHttpServer({
      port: config.http.port,
      host: config.http.host,
      registry: metrics.registry,
      readiness: () => this.readiness(),
    });
    log.info({ metrics: `${this.http.address}/metrics` }, 'metrics and health endpoints up');

    const batcher = new EmbedBatcher(this.embedder, {
      maxBatch: config.embedder.maxBatch,
      maxWaitMs: 10,
      onBatch: (_n, ms) => metrics.stageSeconds.observe({ stage: 'embed' }, ms / 1000),
    });
    for (const cam of config.cameras.filter((c) => c.enabled)) {
      // A live stream that ends cleanly (the server sent end-of-stream) counts as ended with exitWhenSourcesEnd;
      // otherwise live sources reconnect forever and --exit-when-sources-end could never exit with an RTSP camera.
      const source = createCameraSource(cam, { metrics, log, playOnce: this.options.exitWhenSourcesEnd });
      const pipeline = new CameraPipeline(source, {
        detector: this.detector,
        embedder: this.embedder.descriptor,
        batcher,
        holder: this.holder,
        metrics,
        log,
        ...faceStageSettings(config),
        onDecision: (camera, decision, frameTs) => this.raise(camera, decision, frameTs),
      });
      this.pipelines.push(pipeline);
      pipeline.start();
    }
    log.info({ cameras: this.pipelines.map((p) => p.name) }, 'cameras started');
  }

  /** Resolves when every source has ended (files); live sources never end on their own. */
  async sourcesEnded(): Promise<void> {
    await Promise.all(this.pipelines.map((p) => p.done()));
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
    await Promise.allSettled(this.pipelines.map((p) => p.stop()));
    await this.dispatcher?.stop();
    await this.http?.close();
    await this.holder?.close();
    await this.embedder?.close();
    this.detector?.close?.();
  }

  private withOverrides<G extends { thresholds: { svm: number; distance: number } }>(gallery: G): G {
    const { svm, distance } = this.config.matching;
    if (svm === undefined && distance === undefined) return gallery;
    return { ...gallery, thresholds: { ...gallery.thresholds, ...(svm !== undefined ? { svm } : {}), ...(distance !== undefined ? { distance } : {}) } };
  }

  private async reloadStoreIfChanged(): Promise<void> {
    try {
      const mtime = statSync(this.store.file).mtimeMs;
      if (mtime === this.storeMtime) return;
      this.storeMtime = mtime;
      const gallery = await this.store.load();
      if (gallery) {
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
    const fresh = await this.dispatcher.enqueue(alert);
    metrics.alertsTotal.inc({ outcome: fresh ? 'raised' : 'duplicate' });
    if (fresh) metrics.frameToAlertSeconds.observe((Date.now() - frameTs) / 1000);
    this.log.info({ camera, identity: decision.identity.id, watchlists: decision.watchlists, alertId: alert.id, trackId: decision.trackId }, 'watchlist alert');
  }

  private readiness(): ReadinessReport {
    const up = this.pipelines.filter((p) => p.source.stats.online).length;
    const model = !!this.holder?.current();
    const pending = this.dispatcher?.pending ?? 0;
    return {
      ready: model,
      checks: {
        model: { ok: model, detail: model ? `gallery v${this.holder.current()!.gallery.version}` : 'training' },
        cameras: { ok: true, detail: `${up}/${this.pipelines.length} cameras up` },
        alerts: { ok: true, detail: `${pending} alerts pending delivery` },
      },
    };
  }
}
