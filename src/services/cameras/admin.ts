/**
 * Operations on the cameras topic for the `facestream cameras` command (and tests): list the catalog, add or change
 * a camera, remove one. A camera record is written to an explicit partition (placement.ts): the partition already
 * holding its name, else the one with the fewest cameras (preferring the least loaded ingest process's partitions),
 * so the ingest process owning that partition starts it without a restart or rebalance.
 */
import { AssignerProtocol, type Kafka } from 'kafkajs';
import type { CameraConfig, Config } from '../../config/schema';
import { cameraAssignmentRecord, cameraTombstone } from '../../schema';
import { ensureTopics } from '../../transport';
import { configTopicPlan, kafkaFromConfig } from '../kafka-config';
import { CameraCatalog, type CatalogEntry } from './catalog';
import { choosePartition } from './placement';

/** The distributed mode's topic plan from the configuration (the same one the service host ensures). */
export const distributedTopicPlan = configTopicPlan;

/** The ingest group id (`${kafka.groupPrefix}ingest`), whose members own the cameras topic's partitions. */
export function ingestGroupId(config: Config): string {
  return `${config.kafka.groupPrefix}ingest`;
}

export interface PutResult {
  partition: number;
  /** False when a camera of that name was replaced. */
  created: boolean;
}

export interface CameraAdmin {
  readonly topic: string;
  /** Every camera with its partition, by name. */
  list(): Promise<CatalogEntry[]>;
  /** Adds a camera or replaces the one of that name (same partition). */
  put(camera: CameraConfig): Promise<PutResult>;
  /** Removes a camera; returns its partition, or undefined when there was none of that name. */
  remove(name: string): Promise<number | undefined>;
  close(): Promise<void>;
}

/**
 * Connects to Kafka (creating the topics when missing, like the services do). A long-running caller (the API) passes
 * the `catalog` it follows, so a change does not open a catalog reader of its own each time.
 */
export async function openCameraAdmin(config: Config, options: { kafka?: Kafka; catalog?: CameraCatalog } = {}): Promise<CameraAdmin> {
  const kafka = options.kafka ?? kafkaFromConfig(config, 'cameras', { retries: 5 });
  const plan = distributedTopicPlan(config);
  const topic = plan.topics.cameras.name;
  const admin = kafka.admin();
  try {
    await admin.connect();
  } catch (err) {
    throw new Error(`cannot reach Kafka at ${config.kafka.brokers.join(',')}: ${(err as Error).message}`);
  }
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  try {
    await ensureTopics(admin, plan);
    await producer.connect();
  } catch (err) {
    await admin.disconnect().catch(() => undefined);
    throw err;
  }

  const shared = options.catalog;
  const readCatalog = async (): Promise<Pick<CameraCatalog, 'list' | 'get' | 'close'>> =>
    shared ? { list: () => shared.list(), get: (n) => shared.get(n), close: async () => undefined } : CameraCatalog.open({ kafka, topic, groupIdPrefix: `${config.kafka.groupPrefix}cameras-cli-` });

  /** The ingest group's current assignment of the cameras topic (member → partitions), when it has members. */
  async function owners(): Promise<Map<string, number[]>> {
    const out = new Map<string, number[]>();
    try {
      const { groups } = await admin.describeGroups([ingestGroupId(config)]);
      for (const m of groups[0]?.members ?? []) {
        const a = AssignerProtocol.MemberAssignment.decode(m.memberAssignment);
        const parts = a?.assignment[topic];
        if (parts && parts.length > 0) out.set(m.memberId, parts);
      }
    } catch {
      // No group information: placement falls back to the fewest cameras and a hash of the name.
    }
    return out;
  }

  async function partitionCount(): Promise<number> {
    const meta = await admin.fetchTopicMetadata({ topics: [topic] });
    return meta.topics[0]?.partitions.length ?? plan.topics.cameras.partitions;
  }

  return {
    topic,
    async list() {
      const catalog = await readCatalog();
      try {
        return catalog.list();
      } finally {
        await catalog.close();
      }
    },
    async put(camera) {
      const catalog = await readCatalog();
      let cameras: CatalogEntry[];
      try {
        cameras = catalog.list();
      } finally {
        await catalog.close();
      }
      const partition = choosePartition({
        name: camera.name,
        partitionCount: await partitionCount(),
        cameras: cameras.map((e) => ({ name: e.camera.name, partition: e.partition, enabled: e.camera.enabled })),
        owners: await owners(),
      });
      const record = cameraAssignmentRecord({ ...camera, updatedAtMs: Date.now() });
      await producer.send({ topic, acks: -1, messages: [{ ...record, partition }] });
      return { partition, created: !cameras.some((e) => e.camera.name === camera.name) };
    },
    async remove(name) {
      const catalog = await readCatalog();
      let entry: CatalogEntry | undefined;
      try {
        entry = catalog.get(name);
      } finally {
        await catalog.close();
      }
      if (!entry) return undefined;
      await producer.send({ topic, acks: -1, messages: [{ ...cameraTombstone(name), partition: entry.partition }] });
      return entry.partition;
    },
    async close() {
      await producer.disconnect().catch(() => undefined);
      await admin.disconnect().catch(() => undefined);
    },
  };
}
