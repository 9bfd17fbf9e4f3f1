/**
 * The at-least-once consumer every service runs. Offsets are committed only AFTER a record is handled (autoCommit
 * off; the handled prefix of a batch is committed every `commitEveryRecords` records or `commitIntervalMs`, and at
 * the batch's end), so a crash re-delivers at most the records handled since the last commit and loses nothing. A record that cannot be decoded (SchemaError) or whose handler throws a
 * non-retryable error goes to the dead-letter topic with the reason and its original bytes, and is then committed
 * like a handled one, so one bad record never stalls a partition. Retryable errors (broker/network trouble, or an
 * error marked `retryable: true`) are retried in place with backoff, never dead-lettered.
 */
import { type Consumer, type EachBatchPayload, Kafka, KafkaJSError, type KafkaMessage } from 'kafkajs';
import type { Gauge } from 'prom-client';
import { deadLetterFor, deadLetterKey, encodeDeadLetter, SchemaError } from '../schema';
import type { TransportProducer } from './producer';

/** What a handler learns about the record besides its decoded value. */
export interface ConsumedRecord {
  topic: string;
  partition: number;
  offset: string;
  key: Buffer | null;
}

export interface LagSample {
  topic: string;
  partition: number;
  /** High watermark − committed offset after the batch's commit. */
  lag: number;
}

export interface RunConsumerOptions<T> {
  kafka: Kafka;
  groupId: string;
  topic: string;
  /** Service name written into dead letters, e.g. "embed". */
  service: string;
  /** Schema decoder (e.g. decodeFaceCrop); must throw SchemaError for a bad record. */
  decode: (value: Buffer | null) => T;
  handle: (value: T, record: ConsumedRecord) => Promise<void>;
  dlq: { producer: TransportProducer; topic: string };
  /** Whether a handler error is transient (retry) rather than the record's fault (dead-letter). Default: isRetryable. */
  isRetryable?: (err: unknown) => boolean;
  /** Consumer lag per partition after each committed batch. */
  onLag?: (sample: LagSample) => void;
  /** Gauge with labels topic, partition, group; set to the lag after each committed batch. */
  lagGauge?: Gauge<'topic' | 'partition' | 'group'>;
  /** Called after a record is written to the dead-letter topic (for a counter; the reason is SchemaError.reason or the error's message). */
  onDeadLetter?: (reason: string) => void;
  /** Start from the earliest offset when the group has no committed offset (default true). */
  fromBeginning?: boolean;
  /** Backoff between retries of a retryable failure: initial ms (doubling, capped at 5 s). Default 200. */
  retryBackoffMs?: number;
  /** Commit within a batch after this many handled records (default 50): bounds the re-delivery after a crash. */
  commitEveryRecords?: number;
  /** …or when this long has passed since the last commit (default 1000 ms). */
  commitIntervalMs?: number;
  sessionTimeoutMs?: number;
  heartbeatIntervalMs?: number;
}

export interface RunningConsumer {
  /**
   * Graceful stop: the record in hand is finished, the handled prefix of the batch committed, and the group left.
   * Records of the batch not yet started stay uncommitted and go to the next member.
   */
  stop(): Promise<void>;
  readonly consumer: Consumer;
}

/**
 * Transient failures: an error (or one in its `cause` chain) whose `retryable` is true or that is a kafkajs error
 * marked retriable (connection refused, leader moves, timeouts). kafkajs reports an exhausted inner retry as
 * KafkaJSNonRetriableError / KafkaJSNumberOfRetriesExceeded with the retriable error as `cause`: still transient.
 */
export function isRetryable(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e !== null && typeof e === 'object' && depth < 8; e = (e as { cause?: unknown }).cause, depth++) {
    if ((e as { retryable?: unknown }).retryable === true) return true;
    if (e instanceof KafkaJSError && e.retriable) return true;
  }
  return false;
}

/** A handler throws this to ask for a retry instead of a dead letter (e.g. its downstream is unavailable). */
export class RetryableError extends Error {
  readonly retryable = true;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RetryableError';
  }
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export async function runConsumer<T>(opts: RunConsumerOptions<T>): Promise<RunningConsumer> {
  const retryable = opts.isRetryable ?? isRetryable;
  const consumer = opts.kafka.consumer({
    groupId: opts.groupId,
    sessionTimeout: opts.sessionTimeoutMs ?? 30_000,
    heartbeatInterval: opts.heartbeatIntervalMs ?? 3000,
  });
  let stopping = false;

  /** Runs `fn` until it succeeds, retrying retryable failures with backoff; returns the non-retryable error. */
  async function attempt(fn: () => Promise<void>, p: EachBatchPayload): Promise<unknown | undefined> {
    let wait = opts.retryBackoffMs ?? 200;
    for (;;) {
      try {
        await fn();
        return undefined;
      } catch (err) {
        if (!retryable(err)) return err;
        // Stopping or rebalanced away: give up on this record uncommitted; it is re-delivered later.
        if (stopping || !p.isRunning() || p.isStale()) throw err;
        await sleep(wait);
        wait = Math.min(wait * 2, 5000);
        await p.heartbeat().catch(() => undefined);
      }
    }
  }

  async function deadLetter(message: KafkaMessage, partition: number, err: unknown, p: EachBatchPayload): Promise<void> {
    const reason = err instanceof Error ? err : String(err);
    const d = deadLetterFor({ topic: opts.topic, partition, message }, reason, opts.service);
    const failed = await attempt(() => opts.dlq.producer.send(opts.dlq.topic, [{ key: deadLetterKey(d), value: encodeDeadLetter(d) }]).then(() => undefined), p);
    // A dead letter that cannot be written must not be committed past: surface it (the batch is re-delivered).
    if (failed !== undefined) throw failed;
    opts.onDeadLetter?.(d.reason);
  }

  async function eachBatch(p: EachBatchPayload): Promise<void> {
    const { batch } = p;
    const everyRecords = opts.commitEveryRecords ?? 50;
    const intervalMs = opts.commitIntervalMs ?? 1000;
    let last: string | undefined;
    let committed: string | undefined;
    let sinceCommit = 0;
    let lastCommitAt = Date.now();

    // The payload's commit (not consumer.commitOffsets, which kafkajs skips once stop() has begun) so that a
    // graceful stop still commits what was handled. Errors propagate (the batch is then re-delivered).
    async function commit(): Promise<void> {
      if (last === undefined || last === committed) return;
      const next = (BigInt(last) + 1n).toString();
      await p.commitOffsetsIfNecessary({ topics: [{ topic: batch.topic, partitions: [{ partition: batch.partition, offset: next }] }] });
      committed = last;
      sinceCommit = 0;
      lastCommitAt = Date.now();
      const lag = Number(BigInt(batch.highWatermark) - BigInt(next));
      const sample = { topic: batch.topic, partition: batch.partition, lag: Math.max(0, lag) };
      opts.onLag?.(sample);
      opts.lagGauge?.set({ topic: sample.topic, partition: String(sample.partition), group: opts.groupId }, sample.lag);
    }

    try {
      for (const message of batch.messages) {
        if (stopping || !p.isRunning() || p.isStale()) break;
        let value: T | undefined;
        let failure: unknown;
        try {
          value = opts.decode(message.value);
        } catch (err) {
          failure = err instanceof SchemaError ? err : new SchemaError('RecordHeader', `decoder threw: ${err instanceof Error ? err.message : String(err)}`);
        }
        if (failure === undefined) {
          const record: ConsumedRecord = { topic: batch.topic, partition: batch.partition, offset: message.offset, key: message.key };
          failure = await attempt(() => opts.handle(value as T, record), p);
        }
        if (failure !== undefined) await deadLetter(message, batch.partition, failure, p);
        p.resolveOffset(message.offset);
        last = message.offset;
        sinceCommit++;
        if (sinceCommit >= everyRecords || Date.now() - lastCommitAt >= intervalMs) await commit();
        await p.heartbeat();
      }
    } finally {
      // Commit the handled prefix even when the loop ends by an error (that record itself stays uncommitted).
      await commit();
    }
  }

  await consumer.connect();
  await consumer.subscribe({ topic: opts.topic, fromBeginning: opts.fromBeginning ?? true });
  await consumer.run({ autoCommit: false, eachBatchAutoResolve: false, eachBatch });

  return {
    consumer,
    async stop() {
      stopping = true;
      // disconnect() waits for the running eachBatch (which commits its handled prefix) and leaves the group.
      await consumer.disconnect();
    },
  };
}
