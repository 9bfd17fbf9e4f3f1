/**
 * Shared helpers of the tests against a real broker (transport and services): clients, records, a raw topic
 * reader, polling, topic creation, and the committed-offsets check.
 */
import assert from 'node:assert/strict';
import { type Admin, type ITopicConfig, type Kafka, logLevel } from 'kafkajs';
import { createKafka } from '../../src/transport/client';
import { waitForLeaders } from '../../src/transport/topics';
import { decodeFaceCrop, encodeFaceCrop, recordKey, type FaceCrop } from '../../src/schema';
import type { RunConsumerOptions } from '../../src/transport/consumer';
import { createProducer, type OutgoingRecord, type TransportProducer } from '../../src/transport/producer';
import { faceCrop } from '../schema/fixtures';

export function testKafka(brokers: string[], clientId: string): Kafka {
  // Errors are asserted through the API; kafkajs's own logs (connection errors provoked on purpose) are muted.
  return createKafka({ clientId, brokers, logLevel: logLevel.NOTHING });
}

export interface KafkaClients {
  kafka: Kafka;
  /** Connected. */
  admin: Admin;
  /** Connected. */
  producer: TransportProducer;
  /** Disconnects the producer and the admin (errors ignored: the broker may be gone). */
  close(): Promise<void>;
}

/** A client of `brokers` (testKafka) with a connected admin and a connected producer. */
export async function connectKafka(brokers: string[], clientId: string): Promise<KafkaClients> {
  const kafka = testKafka(brokers, clientId);
  const admin = kafka.admin();
  const producer = createProducer(kafka);
  const close = async (): Promise<void> => {
    await producer.disconnect().catch(() => undefined);
    await admin.disconnect().catch(() => undefined);
  };
  try {
    await admin.connect();
    await producer.connect();
  } catch (err) {
    await close();
    throw err;
  }
  return { kafka, admin, producer, close };
}

/** FaceCrop record number n (frame.seq = n), keyed by one of 6 cameras. */
export function cropRecord(n: number): OutgoingRecord {
  const c = faceCrop(0, { side: 4 });
  c.camera = `cam-${n % 6}`;
  c.frame.seq = n;
  return { key: recordKey(c), value: encodeFaceCrop(c) };
}

/** cropRecord(from) … cropRecord(from + n - 1). */
export function cropRecords(n: number, from = 0): OutgoingRecord[] {
  return Array.from({ length: n }, (_, i) => cropRecord(from + i));
}

export const seqOf = (value: Buffer | null): number => decodeFaceCrop(value).frame.seq;

export { readTopic, type RawRecord } from '../support/kafka';

export async function waitFor(what: string, cond: () => boolean, timeoutMs = 30_000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** admin.createTopics, then waits for the leaders (see waitForLeaders in src/transport/topics.ts for why). */
export async function createTopics(admin: Admin, req: { topics: ITopicConfig[] }): Promise<void> {
  await admin.createTopics({ topics: req.topics, waitForLeaders: false });
  await waitForLeaders(admin, req.topics.map((t) => t.topic));
}

/**
 * Asserts that `groupId` committed every partition of `topic` to its end offset; a partition no record ever
 * landed on must have nothing committed (-1).
 */
export async function assertCommittedAtEnd(admin: Admin, groupId: string, topic: string): Promise<void> {
  const end = await admin.fetchTopicOffsets(topic);
  const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] });
  for (const e of end) {
    const c = committed.partitions.find((p) => p.partition === e.partition)?.offset;
    if (e.high === '0') assert.equal(c, '-1', `${topic} partition ${e.partition} is empty: nothing to commit`);
    else assert.equal(c, e.high, `${topic} partition ${e.partition}: committed offset vs end offset`);
  }
}

/** Creates `topic` (`partitions` partitions) and its dead-letter topic `<topic>.dlq` (1 partition); sends `records` to `topic`. */
export async function topicWithDlq(k: Pick<KafkaClients, 'admin' | 'producer'>, topic: string, partitions: number, records: OutgoingRecord[]): Promise<void> {
  await createTopics(k.admin, { topics: [{ topic, numPartitions: partitions }, { topic: `${topic}.dlq`, numPartitions: 1 }] });
  await k.producer.send(topic, records);
}

/**
 * runConsumer options of the consumer tests: FaceCrop records of `topic` in group `groupId`, dead letters to
 * `<topic>.dlq` (service "test"), a 6 s session, 500 ms heartbeats, 50 ms retry backoff; then `over`. The default
 * `handle` fails the test (batch-mode tests give handleBatch instead).
 */
export function cropConsumerOptions(
  k: Pick<KafkaClients, 'kafka' | 'producer'>,
  topic: string,
  groupId: string,
  over: Partial<RunConsumerOptions<FaceCrop>> = {},
): RunConsumerOptions<FaceCrop> {
  return {
    kafka: k.kafka, groupId, topic, service: 'test', decode: decodeFaceCrop, dlq: { producer: k.producer, topic: `${topic}.dlq` },
    sessionTimeoutMs: 6000, heartbeatIntervalMs: 500, retryBackoffMs: 50,
    handle: async () => assert.fail('handle must not be called'),
    ...over,
  };
}
