/**
 * The Kafka topic plan of distributed mode: one topic per stage hand-off (faces → embeddings → alerts), the
 * compacted cameras topic (latest assignment per camera key) and the dead-letter topic, each with explicit
 * partitions and retention. `ensureTopics` creates what is missing and never alters an existing topic: a topic with
 * fewer partitions than planned is reported (warning), because adding partitions re-maps camera keys to partitions
 * and breaks per-camera ordering, so it must be an operator's decision.
 */
import { type Admin, type ITopicConfig, KafkaJSError } from 'kafkajs';

export const DEFAULT_TOPIC_PREFIX = 'facestream.';

export type TopicRole = 'faces' | 'embeddings' | 'alerts' | 'cameras' | 'dlq';
export const TOPIC_ROLES: readonly TopicRole[] = ['faces', 'embeddings', 'alerts', 'cameras', 'dlq'];

export interface TopicSettings {
  partitions: number;
  /** retention.ms; null = the broker's default (used for the compacted cameras topic). */
  retentionMs: number | null;
  /** cleanup.policy=compact (keep the latest record per key) instead of delete. */
  compact: boolean;
}

export interface TopicSpec extends TopicSettings {
  role: TopicRole;
  /** Full topic name, prefix included. */
  name: string;
}

export interface TopicPlanOptions {
  /** Prefix of every topic name; default `facestream.`. */
  prefix?: string;
  /** Replication factor of created topics; default 1 (single broker). Use 3 in production. */
  replicationFactor?: number;
  /** Per-topic overrides of DEFAULT_TOPIC_SETTINGS. */
  topics?: Partial<Record<TopicRole, Partial<TopicSettings>>>;
}

export interface TopicPlan {
  replicationFactor: number;
  topics: Record<TopicRole, TopicSpec>;
}

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

export const DEFAULT_TOPIC_SETTINGS: Readonly<Record<TopicRole, TopicSettings>> = {
  faces: { partitions: 12, retentionMs: HOUR, compact: false },
  embeddings: { partitions: 12, retentionMs: 6 * HOUR, compact: false },
  alerts: { partitions: 3, retentionMs: 7 * DAY, compact: false },
  cameras: { partitions: 1, retentionMs: null, compact: true },
  dlq: { partitions: 3, retentionMs: 14 * DAY, compact: false },
};

const TOPIC_NAME = /^[A-Za-z0-9._-]{1,249}$/;

/** Builds the plan from defaults and overrides; throws on values Kafka would reject. */
export function topicPlan(opts: TopicPlanOptions = {}): TopicPlan {
  const prefix = opts.prefix ?? DEFAULT_TOPIC_PREFIX;
  const replicationFactor = opts.replicationFactor ?? 1;
  if (!Number.isInteger(replicationFactor) || replicationFactor < 1) {
    throw new Error(`topic plan: replicationFactor must be an integer >= 1, got ${replicationFactor}`);
  }
  const topics = {} as Record<TopicRole, TopicSpec>;
  for (const role of TOPIC_ROLES) {
    const s: TopicSettings = { ...DEFAULT_TOPIC_SETTINGS[role], ...(opts.topics?.[role] ?? {}) };
    const name = `${prefix}${role}`;
    if (!TOPIC_NAME.test(name)) throw new Error(`topic plan: "${name}" is not a valid Kafka topic name (A-Z a-z 0-9 . _ -, at most 249)`);
    if (!Number.isInteger(s.partitions) || s.partitions < 1) {
      throw new Error(`topic plan: ${role}.partitions must be an integer >= 1, got ${s.partitions}`);
    }
    if (s.retentionMs !== null && (!Number.isInteger(s.retentionMs) || s.retentionMs < 1)) {
      throw new Error(`topic plan: ${role}.retentionMs must be a positive integer of ms or null, got ${s.retentionMs}`);
    }
    topics[role] = { role, name, ...s };
  }
  return { replicationFactor, topics };
}

/** The topic configs a spec creates its topic with (cleanup.policy, retention.ms). */
export function topicConfigEntries(spec: TopicSpec): { name: string; value: string }[] {
  const entries = [{ name: 'cleanup.policy', value: spec.compact ? 'compact' : 'delete' }];
  if (spec.retentionMs !== null) entries.push({ name: 'retention.ms', value: String(spec.retentionMs) });
  return entries;
}

/**
 * Waits until every partition of `topics` has a leader. kafkajs's own `createTopics({waitForLeaders: true})` gives
 * up on UNKNOWN_TOPIC_OR_PARTITION, which a KRaft broker answers for a moment after creating a topic; this polls
 * metadata through that (retriable errors only) until `timeoutMs`, then throws naming the topics still waiting.
 */
export async function waitForLeaders(admin: Admin, topics: string[], timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastProblem = 'no metadata yet';
  for (;;) {
    try {
      const meta = await admin.fetchTopicMetadata({ topics });
      const waiting = meta.topics.filter((t) => t.partitions.length === 0 || t.partitions.some((p) => p.leader < 0));
      if (waiting.length === 0 && meta.topics.length === topics.length) return;
      lastProblem = `no leader yet for ${waiting.map((t) => t.name).join(', ') || 'some topics'}`;
    } catch (err) {
      if (!(err instanceof KafkaJSError) || !err.retriable) throw err;
      lastProblem = err.message;
    }
    if (Date.now() > deadline) throw new Error(`topics ${topics.join(', ')} not ready after ${timeoutMs} ms: ${lastProblem}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export interface EnsureTopicsResult {
  created: string[];
  existing: string[];
  /** One line per existing topic that differs from the plan in partition count (never changed here). */
  warnings: string[];
}

/**
 * Creates the plan's missing topics (waiting for their leaders) and checks existing ones. Idempotent: a second
 * call creates nothing. Existing topics are never altered; one with fewer partitions than planned yields a warning
 * (passed to `warn` and returned). Errors of the admin client are thrown.
 */
export async function ensureTopics(
  admin: Admin,
  plan: TopicPlan,
  warn: (message: string) => void = () => undefined,
): Promise<EnsureTopicsResult> {
  const specs = TOPIC_ROLES.map((r) => plan.topics[r]);
  const present = new Set(await admin.listTopics());
  const missing = specs.filter((s) => !present.has(s.name));
  const result: EnsureTopicsResult = { created: [], existing: [], warnings: [] };
  if (missing.length > 0) {
    const topics: ITopicConfig[] = missing.map((s) => ({
      topic: s.name,
      numPartitions: s.partitions,
      replicationFactor: plan.replicationFactor,
      configEntries: topicConfigEntries(s),
    }));
    await admin.createTopics({ topics, waitForLeaders: false });
    await waitForLeaders(admin, missing.map((s) => s.name));
    result.created.push(...missing.map((s) => s.name));
  }
  const existing = specs.filter((s) => present.has(s.name));
  if (existing.length > 0) {
    const meta = await admin.fetchTopicMetadata({ topics: existing.map((s) => s.name) });
    for (const s of existing) {
      result.existing.push(s.name);
      const t = meta.topics.find((m) => m.name === s.name);
      const have = t?.partitions.length ?? 0;
      if (have < s.partitions) {
        const msg = `topic ${s.name} has ${have} partitions, the plan asks for ${s.partitions}: left unchanged ` +
          `(adding partitions moves camera keys to other partitions; do it deliberately with kafka-topics --alter)`;
        result.warnings.push(msg);
        warn(msg);
      }
    }
  }
  return result;
}
