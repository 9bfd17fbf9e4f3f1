/**
 * The at-least-once consumer every service runs. Offsets are committed only AFTER a record is handled (autoCommit
 * off; the handled prefix of a batch is committed every `commitEveryRecords` records or `commitIntervalMs`, and at
 * the batch's end), so a crash re-delivers at most the records handled since the last commit and loses nothing. A record that cannot be decoded (SchemaError) or whose handler throws a
 * non-retryable error goes to the dead-letter topic with the reason and its original bytes, and is then committed
 * like a handled one, so one bad record never stalls a partition. Retryable errors (broker/network trouble, or an
 * error marked `retryable: true`) are retried in place with backoff, never dead-lettered.
 *
 * BATCH MODE (`handleBatch`): a fetched Kafka batch (one partition's records) is handled in chunks of up to
 * `batchMaxRecords` records, one handleBatch call per chunk, so a stage that works in batches (embedding) gets them
 * without waiting for single records. handleBatch returns, per item, undefined (handled) or the error that makes
 * that record unprocessable (dead-lettered alone; the others of the chunk count as handled). A chunk-wide failure
 * is thrown: retried when retryable; otherwise the chunk's records are retried one at a time with `handle`, so
 * only the records at fault are dead-lettered. Offsets are resolved and committed only after the whole chunk is
 * done (handled or dead-lettered), on the same cadence as single records. With `partitionsConsumedConcurrently`
 * > 1 chunks of several partitions are in flight at once (their handleBatch calls may share work, e.g. one
 * inference); records of one partition stay in order.
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

/** One decoded record of a chunk, in batch mode. */
export interface BatchItem<T> {
  value: T;
  record: ConsumedRecord;
}

/**
 * Batch-mode handler: per item (same order and length as `items`) undefined (or null) when handled, or the error that makes
 * that record unprocessable (it is dead-lettered; give errors whose messages hold no payload values). Throw for a
 * failure of the whole chunk (see RunConsumerOptions.handleBatch).
 */
export type BatchHandler<T> = (items: readonly BatchItem<T>[]) => Promise<readonly (unknown | undefined)[]>;

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
  /** Handles one record (throws to fail it). In batch mode: the one-at-a-time fallback of a chunk that failed as a whole. */
  handle: (value: T, record: ConsumedRecord) => Promise<void>;
  /**
   * Batch mode (see the file comment): chunks of up to `batchMaxRecords` decoded records of one partition. A thrown
   * retryable error retries the chunk; another thrown error sends its records through `handle` one at a time.
   */
  handleBatch?: BatchHandler<T>;
  /** Batch mode: most records per handleBatch call (default 32). */
  batchMaxRecords?: number;
  /** Batch mode: called with the number of records each handleBatch call handled (not those dead-lettered). */
  onHandled?: (count: number) => void;
  /** Partitions whose batches are handled at the same time (kafkajs partitionsConsumedConcurrently; default 1). */
  partitionsConsumedConcurrently?: number;
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

/** A decoder failure as a SchemaError (decoders should throw only those; anything else is wrapped). */
function asSchemaError(err: unknown): SchemaError {
  return err instanceof SchemaError ? err : new SchemaError('RecordHeader', `decoder threw: ${err instanceof Error ? err.message : String(err)}`);
}

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

    const due = () => sinceCommit >= everyRecords || Date.now() - lastCommitAt >= intervalMs;
    const halted = () => stopping || !p.isRunning() || p.isStale();
    const record = (message: KafkaMessage): ConsumedRecord => ({ topic: batch.topic, partition: batch.partition, offset: message.offset, key: message.key });

    try {
      if (opts.handleBatch) {
        const size = Math.max(1, opts.batchMaxRecords ?? 32);
        for (let start = 0; start < batch.messages.length; start += size) {
          if (halted()) break;
          const chunk = batch.messages.slice(start, start + size);
          const failures = await handleChunk(opts.handleBatch, chunk, record, p);
          for (let i = 0; i < chunk.length; i++) {
            const f = failures.get(i);
            if (f !== undefined) await deadLetter(chunk[i], batch.partition, f, p);
          }
          last = chunk[chunk.length - 1].offset;
          p.resolveOffset(last);
          sinceCommit += chunk.length;
          if (due()) await commit();
          await p.heartbeat();
        }
        return;
      }
      for (const message of batch.messages) {
        if (halted()) break;
        let value: T | undefined;
        let failure: unknown;
        try {
          value = opts.decode(message.value);
        } catch (err) {
          failure = asSchemaError(err);
        }
        if (failure === undefined) failure = await attempt(() => opts.handle(value as T, record(message)), p);
        if (failure !== undefined) await deadLetter(message, batch.partition, failure, p);
        p.resolveOffset(message.offset);
        last = message.offset;
        sinceCommit++;
        if (due()) await commit();
        await p.heartbeat();
      }
    } finally {
      // Commit the handled prefix even when the loop ends by an error (that record itself stays uncommitted).
      await commit();
    }
  }

  /**
   * Decodes and handles one chunk (batch mode); returns the failures by index in the chunk (records to
   * dead-letter). Throws when the chunk must not be committed (stopping, rebalanced away during a retry).
   */
  async function handleChunk(
    handleBatch: BatchHandler<T>,
    chunk: KafkaMessage[],
    record: (m: KafkaMessage) => ConsumedRecord,
    p: EachBatchPayload,
  ): Promise<Map<number, unknown>> {
    const failures = new Map<number, unknown>();
    const items: BatchItem<T>[] = [];
    const at: number[] = [];
    chunk.forEach((message, i) => {
      try {
        items.push({ value: opts.decode(message.value), record: record(message) });
        at.push(i);
      } catch (err) {
        failures.set(i, asSchemaError(err));
      }
    });
    if (items.length === 0) return failures;
    let results: readonly (unknown | undefined)[] = [];
    const failed = await attempt(async () => {
      results = await handleBatch(items);
      if (!Array.isArray(results) || results.length !== items.length) {
        throw new Error(`handleBatch returned ${Array.isArray(results) ? results.length : typeof results} results for ${items.length} records`);
      }
    }, p);
    if (failed === undefined) {
      let handled = 0;
      results.forEach((r, k) => {
        if (r === undefined || r === null) handled++;
        else failures.set(at[k], r);
      });
      if (handled > 0) opts.onHandled?.(handled);
      return failures;
    }
    // The chunk failed as a whole: one record at a time, so that only the records at fault are dead-lettered.
    for (let k = 0; k < items.length; k++) {
      if (stopping || !p.isRunning() || p.isStale()) throw failed;
      const f = await attempt(() => opts.handle(items[k].value, items[k].record), p);
      if (f !== undefined) failures.set(at[k], f);
    }
    return failures;
  }

  await consumer.connect();
  await consumer.subscribe({ topic: opts.topic, fromBeginning: opts.fromBeginning ?? true });
  // consumer.run() joins the group before it resolves: it is left to finish after this returns, so that listeners
  // the caller attaches to `consumer` on return (GROUP_JOIN for readiness, CRASH) see the first join too. A join
  // that fails is a kafkajs CRASH event (retried by kafkajs or reported to those listeners), not a rejection here.
  const started = consumer
    .run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: Math.max(1, opts.partitionsConsumedConcurrently ?? 1),
      eachBatch,
    })
    .catch((err: unknown) => err);

  return {
    consumer,
    async stop() {
      stopping = true;
      await started;
      // disconnect() waits for the running eachBatch (which commits its handled prefix) and leaves the group.
      await consumer.disconnect();
    },
  };
}
