/**
 * The camera catalog: every camera of the compacted cameras topic with the partition that holds it, kept up to date
 * as records arrive. Each ingest process (and the `cameras` command) reads the WHOLE topic with a consumer of its own
 * throw-away group (unique id, from the beginning, never committing), so the group leader knows every partition's
 * weight and every member knows the cameras of the partitions it owns.
 *
 * `CameraCatalog.open` resolves once the catalog has caught up with the topic as it was when opened (the high
 * watermark of each partition, looked up first), so a process never acts on half a catalog.
 */
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { KafkaJSError, type Admin, type Consumer, type Kafka } from 'kafkajs';
import { decodeCameraAssignment, SchemaError, type CameraAssignment, type CameraAssignmentUpdate } from '../../schema';
import type { Logger } from '../../util/log';

export interface CatalogEntry {
  camera: CameraAssignment;
  partition: number;
}

/** A camera added (before undefined), changed, or removed (after undefined). */
export interface CatalogChange {
  name: string;
  before?: CatalogEntry;
  after?: CatalogEntry;
}

/**
 * Applies one cameras-topic record to the catalog map (pure apart from the map) and returns the change, or
 * undefined when nothing changed. A tombstone removes the camera only from the partition that holds it; a record
 * for a name already held by another partition wins only when it is not older (updatedAtMs).
 */
export function applyCameraRecord(map: Map<string, CatalogEntry>, partition: number, update: CameraAssignmentUpdate): CatalogChange | undefined {
  const before = map.get(update.name);
  if (update.deleted) {
    if (!before || before.partition !== partition) return undefined;
    map.delete(update.name);
    return { name: update.name, before };
  }
  if (before && before.partition !== partition && before.camera.updatedAtMs > update.camera.updatedAtMs) return undefined;
  const after: CatalogEntry = { camera: update.camera, partition };
  map.set(update.name, after);
  return { name: update.name, before, after };
}

/** Whether two catalog entries describe the same camera source (ignoring when they were written). */
export function sameCamera(a: CatalogEntry | undefined, b: CatalogEntry | undefined): boolean {
  if (!a || !b) return a === b;
  const x = a.camera;
  const y = b.camera;
  return (
    a.partition === b.partition &&
    x.url === y.url &&
    x.fps === y.fps &&
    x.maxWidth === y.maxWidth &&
    x.transport === y.transport &&
    x.enabled === y.enabled &&
    x.hwaccel === y.hwaccel
  );
}

/**
 * The topic's offsets, retrying retriable errors for up to 15 s (a freshly created topic answers "not the leader"
 * for a moment on a KRaft broker).
 */
async function fetchOffsets(admin: Admin, topic: string): Promise<{ partition: number; high: string; low: string }[]> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    try {
      return await admin.fetchTopicOffsets(topic);
    } catch (err) {
      if (!(err instanceof KafkaJSError && err.retriable) || Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

export interface CameraCatalogOptions {
  kafka: Kafka;
  /** The cameras topic (full name). */
  topic: string;
  /** Prefix of the throw-away group id (a random suffix is added). */
  groupIdPrefix: string;
  log?: Logger;
  /** Give up waiting for the catch-up after this long (the catalog then fills as records arrive). Default 30 s. */
  readyTimeoutMs?: number;
  /** A record that is not a valid camera (logged and skipped; the URL is never shown). */
  /** A record that is not a valid camera (with the record, so its partition's owner can dead-letter it). */
  onRejected?: (reason: string, record: { partition: number; offset: string; key: Buffer | null; value: Buffer | null }) => void;
}

export interface CameraCatalogEvents {
  change: [CatalogChange];
}

export class CameraCatalog extends EventEmitter<CameraCatalogEvents> {
  private readonly map = new Map<string, CatalogEntry>();
  private consumer: Consumer | undefined;
  private closed = false;
  private failure: string | undefined;

  private constructor(private readonly options: CameraCatalogOptions) {
    super();
  }

  /** Opens the catalog and resolves when it holds the topic's records up to the high watermarks seen at open. */
  static async open(options: CameraCatalogOptions): Promise<CameraCatalog> {
    const catalog = new CameraCatalog(options);
    try {
      await catalog.start();
    } catch (err) {
      await catalog.close();
      throw err;
    }
    return catalog;
  }

  get size(): number {
    return this.map.size;
  }

  get(name: string): CatalogEntry | undefined {
    return this.map.get(name);
  }

  /** Every camera, by name. */
  list(): CatalogEntry[] {
    return [...this.map.values()].sort((a, b) => (a.camera.name < b.camera.name ? -1 : a.camera.name > b.camera.name ? 1 : 0));
  }

  /** Enabled cameras in a partition (its weight in the assignment). */
  weight(partition: number): number {
    let n = 0;
    for (const e of this.map.values()) if (e.partition === partition && e.camera.enabled) n += 1;
    return n;
  }

  /** Why the catalog stopped following the topic (a consumer crash kafkajs does not restart), or undefined. */
  get problem(): string | undefined {
    return this.failure;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.consumer?.disconnect().catch(() => undefined);
  }

  private async start(): Promise<void> {
    const { kafka, topic, log } = this.options;
    const admin = kafka.admin();
    const pending = new Map<number, bigint>();
    await admin.connect();
    try {
      for (const p of await fetchOffsets(admin, topic)) {
        const high = BigInt(p.high);
        if (high > BigInt(p.low)) pending.set(p.partition, high - 1n);
      }
    } finally {
      await admin.disconnect().catch(() => undefined);
    }

    let caughtUp!: () => void;
    const ready = new Promise<void>((r) => (caughtUp = r));
    if (pending.size === 0) caughtUp();

    this.consumer = kafka.consumer({
      groupId: `${this.options.groupIdPrefix}${randomUUID()}`,
      sessionTimeout: 10_000,
      heartbeatInterval: 2_000,
      maxWaitTimeInMs: 500,
    });
    const c = this.consumer;
    c.on(c.events.CRASH, (e) => {
      if (this.closed) return;
      log?.error({ topic, err: e.payload.error.message, restart: e.payload.restart }, 'camera catalog consumer crashed');
      if (!e.payload.restart) this.failure = `catalog consumer stopped: ${e.payload.error.message}`;
    });
    c.on(c.events.GROUP_JOIN, () => (this.failure = undefined));
    await this.consumer.connect();
    await this.consumer.subscribe({ topic, fromBeginning: true });
    await this.consumer.run({
      autoCommit: false,
      eachMessage: async ({ partition, message }) => {
        let update: CameraAssignmentUpdate | undefined;
        try {
          update = decodeCameraAssignment(message.key, message.value);
        } catch (err) {
          const reason = err instanceof SchemaError ? err.reason : (err as Error).message;
          log?.warn({ topic, partition, offset: message.offset, reason }, 'cameras topic: record rejected (not a valid camera); skipped');
          this.options.onRejected?.(reason, { partition, offset: message.offset, key: message.key, value: message.value });
        }
        if (update) {
          const change = applyCameraRecord(this.map, partition, update);
          if (change) this.emit('change', change);
        }
        const target = pending.get(partition);
        if (target !== undefined && BigInt(message.offset) >= target) {
          pending.delete(partition);
          if (pending.size === 0) caughtUp();
        }
      },
    });

    const timeoutMs = this.options.readyTimeoutMs ?? 30_000;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<boolean>((r) => (timer = setTimeout(() => r(true), timeoutMs)));
    const late = await Promise.race([ready.then(() => false), timedOut]);
    clearTimeout(timer);
    if (late) log?.warn({ topic, partitions: [...pending.keys()], timeoutMs }, 'camera catalog not caught up in time; going on, it fills as records arrive');
  }
}
