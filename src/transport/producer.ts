/**
 * The idempotent producer every service publishes with. kafkajs's idempotence gives each record a producer id and
 * sequence number, so a send retried after a lost acknowledgement (a broker restart, a dropped connection) is
 * written once. Idempotence needs acks=all (-1) and, in kafkajs, at most one request in flight per connection to
 * keep sequence numbers ordered. Retriable errors are retried by kafkajs (unbounded by default, as kafkajs requires
 * for idempotence), but a broker outage longer than the client's inner retry budget (createKafka: about 2 min)
 * rejects `send` with KafkaJSNonRetriableError (cause: the connection error; isRetryable() says true). Anything
 * else rejects `send` too: errors are never swallowed.
 */
import { CompressionTypes, Kafka, Partitioners, type Producer, type RecordMetadata, type RetryOptions } from 'kafkajs';

export interface OutgoingRecord {
  /** Partitioning key: the camera name (schema's recordKey) or a dead letter's original key; null = round robin. */
  key: string | Buffer | null;
  value: Buffer;
}

export interface TransportProducerOptions {
  /**
   * kafkajs retry settings of each send. Default: unlimited retries, 300 ms doubling up to 5 s between tries,
   * so a send waits out a broker outage instead of failing (set `retries` to bound it; kafkajs then warns).
   */
  retry?: RetryOptions;
  /** Broker-side ack wait per produce request (ms); default 30 000. */
  ackTimeoutMs?: number;
  /** Compress batches (gzip is built into kafkajs); default none: crops are JPEG, embeddings are floats. */
  gzip?: boolean;
}

export interface TransportProducer {
  connect(): Promise<void>;
  /** Resolves when every record is acknowledged by all in-sync replicas; rejects with the kafkajs error otherwise. */
  send(topic: string, records: readonly OutgoingRecord[]): Promise<RecordMetadata[]>;
  disconnect(): Promise<void>;
  /** The kafkajs producer, for instrumentation events. */
  readonly raw: Producer;
}

export const DEFAULT_PRODUCER_RETRY: RetryOptions = {
  retries: Number.MAX_SAFE_INTEGER,
  initialRetryTime: 300,
  maxRetryTime: 5000,
};

export function createProducer(kafka: Kafka, opts: TransportProducerOptions = {}): TransportProducer {
  const raw = kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    retry: { ...DEFAULT_PRODUCER_RETRY, ...(opts.retry ?? {}) },
    // Murmur2 like the Java client, so other clients partition camera keys identically.
    createPartitioner: Partitioners.DefaultPartitioner,
  });
  return {
    raw,
    connect: () => raw.connect(),
    disconnect: () => raw.disconnect(),
    async send(topic, records) {
      if (records.length === 0) return [];
      return raw.send({
        topic,
        acks: -1,
        timeout: opts.ackTimeoutMs ?? 30_000,
        compression: opts.gzip ? CompressionTypes.GZIP : CompressionTypes.None,
        messages: records.map((r) => ({ key: r.key, value: r.value })),
      });
    },
  };
}
