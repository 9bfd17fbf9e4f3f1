/**
 * What every distributed-mode service process shares: the Kafka client, the idempotent producer, the topics (created
 * when missing), the /metrics /healthz /readyz server, consumers run at-least-once with dead-lettering, readiness
 * checks, and a graceful shutdown on SIGTERM/SIGINT (consumers finish the record in hand and commit, then the
 * service's own hooks run in reverse order of registration, then the producer flushes and disconnects).
 *
 * A service (ingest, embed, match, alerts) is a thin function over this host and its stage core.
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Kafka } from 'kafkajs';
import { configTopicPlan, kafkaFromConfig } from './kafka-config';

export { configTopicPlan, kafkaFromConfig };
import { Counter, Gauge, Histogram } from 'prom-client';
import type { Config } from '../config/schema';
import { startHttpServer, type ReadinessCheck, type ReadinessReport, type RunningHttpServer } from '../http/server';
import { createMetrics, METRIC_PREFIX, STAGE_BUCKETS, type FacestreamMetrics } from '../metrics/registry';
import { stageDurations, type StageStamp } from '../schema';
import {
  createProducer,
  ensureTopics,
  runConsumer,
  type RunConsumerOptions,
  type RunningConsumer,
  type TopicPlan,
  type TopicRole,
  type TransportProducer,
} from '../transport';
import { logger, type Logger } from '../util/log';

export type ServiceRole = 'ingest' | 'embed' | 'match' | 'alerts';

/** Metrics of the distributed services, next to the embedded-mode ones (same registry, same prefix). */
export interface ServiceMetrics {
  /** Records consumed, by topic and outcome (handled | dead_letter). */
  recordsTotal: Counter<'topic' | 'outcome'>;
  /** Records published, by topic. */
  publishedTotal: Counter<'topic'>;
  /** Dead letters written, by source topic. */
  deadLettersTotal: Counter<'topic'>;
  /** Consumer lag per partition after each commit. */
  consumerLag: Gauge<'topic' | 'partition' | 'group'>;
  /** Time before each stage stamp of a record since the previous one, labelled by the stamp (e.g. "embed.receive"). */
  hopSeconds: Histogram<'stage'>;
  /** Batch sizes (embed: crops per inference; others: records per handled batch). */
  batchSize: Histogram<'service'>;
}

export interface ServiceHost {
  readonly role: ServiceRole;
  readonly config: Config;
  readonly log: Logger;
  /** This process: `<hostname>-<pid>-<random>`, unique per run. */
  readonly instanceId: string;
  readonly metrics: FacestreamMetrics;
  readonly service: ServiceMetrics;
  readonly kafka: Kafka;
  /** Connected idempotent producer (acks=all). */
  readonly producer: TransportProducer;
  readonly plan: TopicPlan;
  /** Full topic names by role. */
  readonly topics: Record<TopicRole, string>;
  /** The HTTP port actually bound. */
  readonly httpPort: number;
  /** `${kafka.groupPrefix}${role}` (plus `-${suffix}`). */
  groupId(suffix?: string): string;
  /**
   * Runs an at-least-once consumer of one of the plan's topics in this service's group (see runConsumer): dead
   * letters go to the plan's dlq topic and are counted, lag is exported, readiness follows group membership, a
   * consumer that crashes is restarted, and shutdown stops it (committing what was handled) before the hooks run.
   */
  consume<T>(opts: ConsumeOptions<T>): Promise<RunningConsumer>;
  /** Adds a readiness check shown by /readyz (ready only when every check is ok). */
  readiness(name: string, check: () => ReadinessCheck | Promise<ReadinessCheck>): void;
  /** Registers a shutdown step; steps run after the consumers stop, last registered first. */
  onShutdown(step: () => Promise<void> | void): void;
  /** Records the hops of a record's stage stamps in hopSeconds. */
  observeStages(stages: readonly StageStamp[]): void;
  /** Graceful stop (idempotent): consumers, hooks, producer, HTTP. */
  shutdown(reason: string): Promise<void>;
  /** Resolves when shutdown has completed. */
  readonly stopped: Promise<void>;
}

export interface ConsumeOptions<T>
  extends Omit<RunConsumerOptions<T>, 'kafka' | 'groupId' | 'topic' | 'service' | 'dlq' | 'lagGauge' | 'onDeadLetter' | 'sessionTimeoutMs'> {
  topic: TopicRole;
  /** Appended to the service's group id (a second, independent group in the same service). */
  groupSuffix?: string;
}

export interface ServiceHostOptions {
  log?: Logger;
  /** Install SIGTERM/SIGINT handlers that shut down and exit 0 (default true). */
  signals?: boolean;
}

function serviceMetrics(m: FacestreamMetrics): ServiceMetrics {
  const p = METRIC_PREFIX;
  const registers = [m.registry];
  return {
    recordsTotal: new Counter({ name: `${p}records_total`, help: 'Records consumed, by topic and outcome (handled, dead_letter)', labelNames: ['topic', 'outcome'] as const, registers }),
    publishedTotal: new Counter({ name: `${p}records_published_total`, help: 'Records published, by topic', labelNames: ['topic'] as const, registers }),
    deadLettersTotal: new Counter({ name: `${p}dead_letters_total`, help: 'Records sent to the dead-letter topic, by source topic', labelNames: ['topic'] as const, registers }),
    consumerLag: new Gauge({ name: `${p}consumer_lag`, help: 'Consumer lag (records) per partition after the last commit', labelNames: ['topic', 'partition', 'group'] as const, registers }),
    hopSeconds: new Histogram({
      name: `${p}hop_seconds`,
      help: 'Time spent before each stage stamp of a record since the previous stamp (queueing included), by stage',
      labelNames: ['stage'] as const,
      buckets: STAGE_BUCKETS,
      registers,
    }),
    batchSize: new Histogram({
      name: `${p}batch_size`,
      help: 'Items per batch (embed: crops per inference)',
      labelNames: ['service'] as const,
      buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256],
      registers,
    }),
  };
}

export async function startServiceHost(role: ServiceRole, config: Config, options: ServiceHostOptions = {}): Promise<ServiceHost> {
  const log = (options.log ?? logger()).child({ service: role });
  const metrics = createMetrics();
  const service = serviceMetrics(metrics);
  const instanceId = `${hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`;
  const checks = new Map<string, () => ReadinessCheck | Promise<ReadinessCheck>>();
  const hooks: (() => Promise<void> | void)[] = [];
  const consumers = new Set<{ stop(): Promise<void> }>();
  let stopping = false;
  let resolveStopped!: () => void;
  const stopped = new Promise<void>((r) => (resolveStopped = r));

  async function readiness(): Promise<ReadinessReport> {
    const out: Record<string, ReadinessCheck> = {};
    for (const [name, check] of checks) {
      try {
        out[name] = await check();
      } catch (err) {
        out[name] = { ok: false, detail: (err as Error).message };
      }
    }
    if (stopping) out.shutdown = { ok: false, detail: 'shutting down' };
    return { ready: Object.values(out).every((c) => c.ok), checks: out };
  }

  // The HTTP server first, so /healthz answers (and /readyz says why not ready) while Kafka is reached.
  const http: RunningHttpServer = await startHttpServer({ port: config.http.port, host: config.http.host, registry: metrics.registry, readiness });
  log.info({ address: http.address }, 'metrics at /metrics, health at /healthz and /readyz');

  const kafka = kafkaFromConfig(config, role);
  const plan = configTopicPlan(config);
  const topics = Object.fromEntries(Object.entries(plan.topics).map(([r, s]) => [r, s.name])) as Record<TopicRole, string>;

  let kafkaState: ReadinessCheck = { ok: false, detail: 'connecting to Kafka' };
  checks.set('kafka', () => kafkaState);
  const admin = kafka.admin();
  try {
    await admin.connect();
    const r = await ensureTopics(admin, plan, (m) => log.warn(m));
    if (r.created.length) log.info({ topics: r.created }, 'topics created');
  } catch (err) {
    await http.close().catch(() => undefined);
    throw new Error(`cannot reach Kafka at ${config.kafka.brokers.join(',')} to check the topics: ${(err as Error).message}`);
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
  const producer = createProducer(kafka);
  await producer.connect();
  kafkaState = { ok: true };
  producer.raw.on(producer.raw.events.DISCONNECT, () => {
    if (!stopping) kafkaState = { ok: false, detail: 'producer disconnected' };
  });
  producer.raw.on(producer.raw.events.CONNECT, () => (kafkaState = { ok: true }));

  const groupId = (suffix?: string) => `${config.kafka.groupPrefix}${role}${suffix ? `-${suffix}` : ''}`;

  async function consume<T>(opts: ConsumeOptions<T>): Promise<RunningConsumer> {
    const topic = topics[opts.topic];
    const group = groupId(opts.groupSuffix);
    const checkName = `consumer ${topic}`;
    let member: ReadinessCheck = { ok: false, detail: 'joining the group' };
    checks.set(checkName, () => member);
    let current: RunningConsumer | undefined;
    let restartTimer: NodeJS.Timeout | undefined;

    const start = async (): Promise<RunningConsumer> => {
      const running = await runConsumer<T>({
        ...opts,
        kafka,
        groupId: group,
        topic,
        service: role,
        dlq: { producer, topic: topics.dlq },
        lagGauge: service.consumerLag,
        sessionTimeoutMs: config.kafka.sessionTimeoutMs,
        heartbeatIntervalMs: Math.max(500, Math.floor(config.kafka.sessionTimeoutMs / 5)),
        handle: async (value, record) => {
          await opts.handle(value, record);
          service.recordsTotal.inc({ topic, outcome: 'handled' });
        },
        onDeadLetter: (reason) => {
          service.deadLettersTotal.inc({ topic });
          service.recordsTotal.inc({ topic, outcome: 'dead_letter' });
          log.warn({ topic, reason }, 'record sent to the dead-letter topic');
        },
      });
      const c = running.consumer;
      c.on(c.events.GROUP_JOIN, (e) => {
        const assigned = e.payload.memberAssignment[topic]?.length ?? 0;
        member = { ok: true, detail: `${assigned} partition(s) of ${topic}` };
      });
      c.on(c.events.CRASH, (e) => {
        member = { ok: false, detail: `consumer crashed: ${e.payload.error.message}` };
        if (stopping) return;
        log.error({ topic, err: e.payload.error.message, restart: e.payload.restart }, 'consumer crashed');
        // kafkajs restarts it by itself after retriable errors; otherwise start a new one after a pause.
        if (!e.payload.restart) {
          restartTimer = setTimeout(() => {
            void running
              .stop()
              .catch(() => undefined)
              .then(() => (stopping ? undefined : start().then((r) => void (current = r))))
              .catch((err) => log.error({ topic, err: (err as Error).message }, 'consumer restart failed'));
          }, 2000);
        }
      });
      return running;
    };

    current = await start();
    const handle = {
      stop: async () => {
        if (restartTimer) clearTimeout(restartTimer);
        await current?.stop();
        checks.delete(checkName);
      },
    };
    consumers.add(handle);
    return {
      get consumer() {
        return current!.consumer;
      },
      stop: handle.stop,
    };
  }

  async function shutdown(reason: string): Promise<void> {
    if (stopping) return stopped;
    stopping = true;
    log.info({ reason }, 'shutting down');
    try {
      await Promise.allSettled([...consumers].map((c) => c.stop()));
      for (const step of [...hooks].reverse()) {
        try {
          await step();
        } catch (err) {
          log.error({ err: (err as Error).message }, 'shutdown step failed');
        }
      }
      await producer.disconnect().catch(() => undefined);
      await http.close().catch(() => undefined);
    } finally {
      log.info('stopped');
      resolveStopped();
    }
    return stopped;
  }

  if (options.signals ?? true) {
    const onSignal = (sig: NodeJS.Signals) => {
      void shutdown(sig).then(() => process.exit(0));
    };
    process.once('SIGTERM', onSignal);
    process.once('SIGINT', onSignal);
  }

  return {
    role,
    config,
    log,
    instanceId,
    metrics,
    service,
    kafka,
    producer,
    plan,
    topics,
    httpPort: http.port,
    groupId,
    consume,
    readiness: (name, check) => void checks.set(name, check),
    onShutdown: (step) => void hooks.push(step),
    observeStages(stages) {
      for (const d of stageDurations([...stages])) if (d.ms >= 0) service.hopSeconds.observe({ stage: d.stage }, d.ms / 1000);
    },
    shutdown,
    stopped,
  };
}
