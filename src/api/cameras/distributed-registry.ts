/**
 * Distributed mode's cameras: the compacted Kafka cameras topic. The API follows the whole topic with a catalog of
 * its own (services/cameras/catalog.ts) and writes through the same admin as `facestream cameras`
 * (services/cameras/admin.ts: explicit partition, so the owning ingest process starts the camera without a
 * rebalance). A write returns once the API's catalog has read it back, so a GET right after a POST sees it.
 * Status comes from what the ingest processes publish (status-topic.ts); a camera no process has reported yet is
 * `idle` (or `disabled`).
 */
import type { Kafka } from 'kafkajs';
import type { CameraConfig, Config } from '../../config/schema';
import { CameraCatalog, type CatalogEntry } from '../../services/cameras/catalog';
import { openCameraAdmin, type CameraAdmin } from '../../services/cameras/admin';
import { kafkaFromConfig } from '../../services/kafka-config';
import { idleStatus, type CameraStatus } from '../../runtime/camera-status';
import type { Logger } from '../../util/log';
import { conflict, notFound } from '../errors';
import { checkRunnable } from './embedded-registry';
import { cameraView, patched, safeStatus, sameSettings, SerialQueue, type CameraPatch, type CameraRegistry, type CameraView } from './registry';

/** Where the registry reads camera status from (the status topic's reader). */
export interface CameraStatusSource {
  get(name: string): CameraStatus | undefined;
  close(): Promise<void>;
}

export interface DistributedCameraRegistryOptions {
  log: Logger;
  kafka?: Kafka;
  status?: CameraStatusSource;
  /** How long a write waits for the catalog to show it (default 15 s). */
  readBackMs?: number;
}

export class DistributedCameraRegistry implements CameraRegistry {
  readonly mode = 'distributed' as const;
  private readonly queue = new SerialQueue();

  private constructor(
    private readonly catalog: CameraCatalog,
    private readonly admin: CameraAdmin,
    private readonly options: DistributedCameraRegistryOptions,
  ) {}

  static async open(config: Config, options: DistributedCameraRegistryOptions): Promise<DistributedCameraRegistry> {
    const kafka = options.kafka ?? kafkaFromConfig(config, 'api', { retries: 5 });
    // The admin creates the topics when missing; the catalog then follows the cameras topic.
    const bootstrap = await openCameraAdmin(config, { kafka });
    const topic = bootstrap.topic;
    await bootstrap.close();
    const catalog = await CameraCatalog.open({ kafka, topic, groupIdPrefix: `${config.kafka.groupPrefix}api-cameras-`, log: options.log });
    let admin: CameraAdmin;
    try {
      admin = await openCameraAdmin(config, { kafka, catalog });
    } catch (err) {
      await catalog.close();
      throw err;
    }
    return new DistributedCameraRegistry(catalog, admin, options);
  }

  async list(): Promise<CameraView[]> {
    return this.catalog.list().map((e) => cameraView(e.camera));
  }

  async get(name: string): Promise<CameraView | undefined> {
    const e = this.catalog.get(name);
    return e && cameraView(e.camera);
  }

  create(camera: CameraConfig): Promise<CameraView> {
    return this.queue.run(async () => {
      if (this.catalog.get(camera.name)) throw conflict(`camera "${camera.name}" already exists (PATCH /cameras/${camera.name} changes it)`, 'name');
      checkRunnable(camera);
      await this.admin.put(camera);
      const e = await this.readBack(camera.name, (x) => !!x && sameSettings(x.camera, camera));
      this.options.log.info({ camera: camera.name, enabled: camera.enabled, partition: e.partition }, 'camera added');
      return cameraView(e.camera);
    });
  }

  update(name: string, patch: CameraPatch): Promise<CameraView> {
    return this.queue.run(async () => {
      const before = this.catalog.get(name);
      if (!before) throw notFound(`no camera named "${name}"`, 'name');
      const next = patched(before.camera, patch);
      if (sameSettings(before.camera, next)) return cameraView(before.camera);
      checkRunnable(next, patch.url !== undefined);
      await this.admin.put(next);
      const e = await this.readBack(name, (x) => !!x && sameSettings(x.camera, next));
      this.options.log.info({ camera: name, enabled: next.enabled }, 'camera updated');
      return cameraView(e.camera);
    });
  }

  remove(name: string): Promise<boolean> {
    return this.queue.run(async () => {
      if (!this.catalog.get(name)) return false;
      const partition = await this.admin.remove(name);
      if (partition === undefined) return false;
      await this.readBack(name, (x) => x === undefined);
      this.options.log.info({ camera: name }, 'camera removed');
      return true;
    });
  }

  async status(name: string): Promise<CameraStatus | undefined> {
    const e = this.catalog.get(name);
    if (!e) return undefined;
    if (!e.camera.enabled) return idleStatus(name, 'disabled');
    const s = this.options.status?.get(name);
    return s ? safeStatus(s, e.camera.url) : idleStatus(name, 'idle');
  }

  health(): { ok: boolean; detail: string } {
    const problem = this.catalog.problem;
    return problem ? { ok: false, detail: `cameras topic: ${problem}` } : { ok: true, detail: `${this.catalog.size} cameras in the cameras topic` };
  }

  async close(): Promise<void> {
    await this.queue.run(async () => undefined);
    await this.options.status?.close();
    await this.catalog.close();
    await this.admin.close();
  }

  /** Waits until the catalog shows the write (or throws after readBackMs: the write itself went through). */
  private async readBack(name: string, done: (e: CatalogEntry | undefined) => boolean): Promise<CatalogEntry> {
    const deadline = Date.now() + (this.options.readBackMs ?? 15_000);
    for (;;) {
      const e = this.catalog.get(name);
      if (done(e)) return e as CatalogEntry;
      if (Date.now() > deadline) throw new Error(`camera "${name}" was written to the cameras topic but the API has not read it back yet`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}
