/**
 * Camera status in distributed mode: each ingest process publishes the status of every camera it runs (state,
 * measured fps, last frame, last error — credentials scrubbed, never the URL) to the compacted topic
 * `<kafka.topicPrefix>camera-status` (key = camera name, CameraStatus records, src/schema/camera-status.ts) every
 * STATUS_INTERVAL_MS and at once when a camera goes online or offline; a camera it stops gets a last `stopped`
 * status. The management API follows the topic (CameraStatusReader) to answer GET /cameras/:name/status; a status
 * not refreshed for STALE_AFTER_MS (its process died) is reported offline with that reason.
 */
import { randomUUID } from 'node:crypto';
import { KafkaJSError, type Consumer, type Kafka } from 'kafkajs';
import type { Config } from '../../config/schema';
import type { CameraSource } from '../../ingest/camera-source';
import { FpsMeter, sourceStatus, type CameraStatus } from '../../runtime/camera-status';
import { cameraStatusRecord, decodeCameraStatus, SchemaError, type CameraStatusRecord } from '../../schema';
import { waitForLeaders } from '../../transport';
import type { Logger } from '../../util/log';
import { kafkaFromConfig } from '../kafka-config';

export const STATUS_INTERVAL_MS = 5000;
export const STALE_AFTER_MS = 4 * STATUS_INTERVAL_MS;

export function cameraStatusTopic(config: Config): string {
  return `${config.kafka.topicPrefix}camera-status`;
}

/** Creates the compacted status topic when missing (never alters an existing one); returns its name. */
export async function ensureCameraStatusTopic(kafka: Kafka, config: Config): Promise<string> {
  const topic = cameraStatusTopic(config);
  const admin = kafka.admin();
  await admin.connect();
  try {
    if ((await admin.listTopics()).includes(topic)) return topic;
    try {
      await admin.createTopics({
        topics: [{ topic, numPartitions: 3, replicationFactor: config.kafka.replicationFactor, configEntries: [{ name: 'cleanup.policy', value: 'compact' }] }],
        waitForLeaders: false,
      });
    } catch (err) {
      // Another process created it meanwhile.
      if (!(err instanceof KafkaJSError) || !/exist/i.test(err.message)) throw err;
    }
    await waitForLeaders(admin, [topic]);
    return topic;
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

/** What the publisher sends with (the ingest host's producer). */
export interface StatusSender {
  send(topic: string, records: { key: string; value: Buffer }[]): Promise<unknown>;
}

/** The ingest side: publishes the status of the cameras this process runs. */
export class CameraStatusPublisher {
  private readonly cameras = new Map<string, { source: CameraSource; meter: FpsMeter }>();
  private readonly timer: NodeJS.Timeout;
  private failing = false;

  constructor(
    private readonly topic: string,
    private readonly sender: StatusSender,
    private readonly reporter: string,
    private readonly log: Logger,
    intervalMs = STATUS_INTERVAL_MS,
  ) {
    this.timer = setInterval(() => void this.publish([...this.cameras.keys()]), intervalMs);
    this.timer.unref();
  }

  /** Starts reporting a camera (call before source.start() so the first state is seen). */
  track(source: CameraSource): void {
    const meter = new FpsMeter(source);
    this.cameras.set(source.name, { source, meter });
    source.on('online', () => void this.publish([source.name]));
    source.on('offline', () => void this.publish([source.name]));
    source.on('ended', () => void this.publish([source.name]));
    void this.publish([source.name]);
  }

  /** The camera stopped here: a last `stopped` status, then no more reports. */
  async untrack(name: string): Promise<void> {
    const entry = this.cameras.get(name);
    if (!entry) return;
    this.cameras.delete(name);
    await this.send([{ ...this.record(entry.source, entry.meter), state: 'stopped', fps: 0 }]);
  }

  close(): void {
    clearInterval(this.timer);
  }

  private record(source: CameraSource, meter: FpsMeter): CameraStatusRecord {
    const s = sourceStatus(source, meter);
    const state = s.state === 'disabled' || s.state === 'idle' ? 'idle' : s.state;
    return {
      name: s.camera,
      state,
      fps: s.fps,
      lastFrameAtMs: s.lastFrameAt === null ? null : Date.parse(s.lastFrameAt),
      lastError: s.lastError,
      frames: s.frames,
      reconnects: s.reconnects,
      updatedAtMs: Date.now(),
      reporter: this.reporter,
    };
  }

  private async publish(names: string[]): Promise<void> {
    const records: CameraStatusRecord[] = [];
    for (const n of names) {
      const e = this.cameras.get(n);
      if (e) records.push(this.record(e.source, e.meter));
    }
    await this.send(records);
  }

  private async send(records: CameraStatusRecord[]): Promise<void> {
    if (records.length === 0) return;
    try {
      await this.sender.send(this.topic, records.map(cameraStatusRecord));
      this.failing = false;
    } catch (err) {
      if (!this.failing) this.log.warn({ err: (err as Error).message, topic: this.topic }, 'camera status not published (retried at the next report)');
      this.failing = true;
    }
  }
}

/** The API side: follows the status topic. */
export class CameraStatusReader {
  private readonly map = new Map<string, CameraStatusRecord>();
  private consumer: Consumer | undefined;

  constructor(
    private readonly kafka: Kafka,
    private readonly topic: string,
    private readonly groupIdPrefix: string,
    private readonly log: Logger,
  ) {}

  async start(): Promise<void> {
    const c = this.kafka.consumer({ groupId: `${this.groupIdPrefix}${randomUUID()}`, sessionTimeout: 10_000, heartbeatInterval: 2_000, maxWaitTimeInMs: 500 });
    this.consumer = c;
    await c.connect();
    await c.subscribe({ topic: this.topic, fromBeginning: true });
    await c.run({
      autoCommit: false,
      eachMessage: async ({ message, partition }) => {
        try {
          this.apply(message.key, message.value);
        } catch (err) {
          const reason = err instanceof SchemaError ? err.reason : (err as Error).message;
          this.log.warn({ topic: this.topic, partition, offset: message.offset, reason }, 'camera-status record rejected; skipped');
        }
      },
    });
  }

  /** Applies one record of the topic (newer reports win; a null value clears). Throws SchemaError on a bad one. */
  apply(key: Buffer | string | null, value: Buffer | null): void {
    const { name, status } = decodeCameraStatus(key, value);
    if (status === null) this.map.delete(name);
    else if ((this.map.get(name)?.updatedAtMs ?? 0) <= status.updatedAtMs) this.map.set(name, status);
  }

  /** The latest status reported for a camera (offline with a reason when its reporter went silent). */
  get(name: string, now = Date.now()): CameraStatus | undefined {
    const r = this.map.get(name);
    if (!r) return undefined;
    const stale = r.state !== 'stopped' && now - r.updatedAtMs > STALE_AFTER_MS;
    const silentS = Math.round((now - r.updatedAtMs) / 1000);
    return {
      camera: r.name,
      state: stale ? 'offline' : r.state,
      online: !stale && r.state === 'online',
      fps: stale ? 0 : r.fps,
      lastFrameAt: r.lastFrameAtMs === null ? null : new Date(r.lastFrameAtMs).toISOString(),
      lastError: stale ? `no status from the ingest process running it for ${silentS} s (it may have stopped; another takes the camera over)` : r.lastError,
      frames: r.frames,
      reconnects: r.reconnects,
      updatedAt: new Date(r.updatedAtMs).toISOString(),
    };
  }

  async close(): Promise<void> {
    await this.consumer?.disconnect().catch(() => undefined);
  }
}

/** Ensures the topic and starts following it (the API in distributed mode). */
export async function openCameraStatusReader(config: Config, options: { log: Logger; kafka?: Kafka }): Promise<CameraStatusReader> {
  const kafka = options.kafka ?? kafkaFromConfig(config, 'api-status', { retries: 5 });
  const topic = await ensureCameraStatusTopic(kafka, config);
  const reader = new CameraStatusReader(kafka, topic, `${config.kafka.groupPrefix}api-status-`, options.log);
  try {
    await reader.start();
  } catch (err) {
    await reader.close();
    throw err;
  }
  return reader;
}
