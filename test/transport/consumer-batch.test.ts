/**
 * runConsumer's batch mode against a real Kafka 3.9 broker: chunks of at most batchMaxRecords records of one
 * partition, in order; per-item failures dead-lettered alone; a chunk-wide retryable failure retried; a chunk-wide
 * non-retryable failure resolved one record at a time so that only the record at fault is dead-lettered; chunks of
 * several partitions in flight at once with partitionsConsumedConcurrently; everything committed to the end.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Admin, Kafka } from 'kafkajs';
import { decodeDeadLetter, decodeFaceCrop, type FaceCrop } from '../../src/schema';
import { RetryableError, runConsumer, type BatchItem, type RunConsumerOptions } from '../../src/transport/consumer';
import { createProducer, type TransportProducer } from '../../src/transport/producer';
import { kafkaUnavailableReason, startKafka, type KafkaBroker } from '../support/kafka';
import { createTopics, cropRecord, readTopic, sleep, testKafka, waitFor } from './helpers';

const SKIP = kafkaUnavailableReason();
if (SKIP) console.log(`# skipping the batch-mode consumer tests: ${SKIP}`);

describe('at-least-once consumer, batch mode (real Kafka)', { skip: SKIP, timeout: 240_000 }, () => {
  let broker: KafkaBroker;
  let kafka: Kafka;
  let admin: Admin;
  let producer: TransportProducer;

  before(async () => {
    broker = await startKafka();
    kafka = testKafka(broker.brokers, 'transport-consumer-batch-test');
    admin = kafka.admin();
    await admin.connect();
    producer = createProducer(kafka);
    await producer.connect();
  });

  after(async () => {
    await producer?.disconnect().catch(() => undefined);
    await admin?.disconnect().catch(() => undefined);
    await broker?.stop();
  });

  async function topicWith(topic: string, partitions: number, records: Parameters<TransportProducer['send']>[1]): Promise<void> {
    await createTopics(admin, { topics: [{ topic, numPartitions: partitions }, { topic: `${topic}.dlq`, numPartitions: 1 }] });
    await producer.send(topic, records);
  }

  function options(topic: string, groupId: string, over: Partial<RunConsumerOptions<FaceCrop>>): RunConsumerOptions<FaceCrop> {
    return {
      kafka, groupId, topic, service: 'test', decode: decodeFaceCrop, dlq: { producer, topic: `${topic}.dlq` },
      sessionTimeoutMs: 6000, heartbeatIntervalMs: 500, retryBackoffMs: 50,
      handle: async () => assert.fail('handle must not be called'),
      ...over,
    };
  }

  async function assertCommittedAtEnd(groupId: string, topic: string): Promise<void> {
    const end = await admin.fetchTopicOffsets(topic);
    const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] });
    for (const e of end) assert.equal(committed.partitions.find((p) => p.partition === e.partition)?.offset, e.high, `partition ${e.partition}`);
  }

  test('chunks of at most batchMaxRecords, in partition order; per-item failures and garbage dead-lettered alone; onHandled counts', async () => {
    const topic = 'batch-items';
    const garbage = Buffer.from('garbage \u0000\u00ff');
    const N = 100;
    const records = Array.from({ length: N }, (_, i) => cropRecord(i));
    records.splice(40, 0, { key: 'cam-4', value: garbage });
    await topicWith(topic, 1, records);
    const sizes: number[] = [];
    const handled: number[] = [];
    let counted = 0;
    const running = await runConsumer(options(topic, 'g-items', {
      batchMaxRecords: 16,
      onHandled: (n) => (counted += n),
      handleBatch: async (items: readonly BatchItem<FaceCrop>[]) => {
        sizes.push(items.length);
        return items.map(({ value }) => {
          if (value.frame.seq % 25 === 7) return new Error(`seq ${value.frame.seq} cannot be processed`);
          handled.push(value.frame.seq);
          return undefined;
        });
      },
    }));
    await waitFor('all handled', () => handled.length + 4 >= N);
    await sleep(300);
    await running.stop();
    assert.ok(sizes.every((s) => s >= 1 && s <= 16), `chunk sizes ${sizes.join(',')}`);
    assert.ok(Math.max(...sizes) === 16, 'a backlog fills chunks');
    const bad = [7, 32, 57, 82];
    assert.deepEqual(handled, Array.from({ length: N }, (_, i) => i).filter((i) => !bad.includes(i)), 'handled once each, in order');
    assert.equal(counted, N - bad.length, 'onHandled counts the records handleBatch handled');
    await assertCommittedAtEnd('g-items', topic);
    const dead = (await readTopic(kafka, `${topic}.dlq`, 5)).map((r) => decodeDeadLetter(r.value)).sort((a, b) => Number(a.offset) - Number(b.offset));
    assert.equal(dead.length, 5);
    assert.deepEqual(Buffer.from(dead[2].original!), garbage);
    assert.equal(dead[2].offset, '40');
    assert.deepEqual(dead.filter((d) => d.offset !== '40').map((d) => d.reason), bad.map((s) => `seq ${s} cannot be processed`));
    assert.deepEqual(dead.filter((d) => d.offset !== '40').map((d) => decodeFaceCrop(Buffer.from(d.original!)).frame.seq), bad);
  });

  test('a chunk-wide retryable failure is retried; a chunk-wide other failure is resolved one record at a time', async () => {
    const topic = 'batch-chunk';
    const N = 40;
    await topicWith(topic, 1, Array.from({ length: N }, (_, i) => cropRecord(i)));
    let flaky = 0;
    const batchOk: number[] = [];
    const single: number[] = [];
    const running = await runConsumer(options(topic, 'g-chunk', {
      batchMaxRecords: 10,
      handleBatch: async (items) => {
        const seqs = items.map((i) => i.value.frame.seq);
        if (seqs.includes(5) && flaky++ < 2) throw new RetryableError('model reloading');
        if (seqs.includes(23)) throw new Error('inference failed for the chunk');
        batchOk.push(...seqs);
        return items.map(() => undefined);
      },
      handle: async (crop) => {
        if (crop.frame.seq === 23) throw new Error('seq 23 is corrupt');
        single.push(crop.frame.seq);
      },
    }));
    await waitFor('all handled', () => batchOk.length + single.length + 1 >= N);
    await sleep(300);
    await running.stop();
    assert.equal(flaky, 3, 'the first chunk failed twice (retryable), then went through');
    assert.ok(batchOk.includes(5));
    assert.ok(single.length >= 1 && single.every((s) => s >= 20 && s < 30), `the failed chunk's records one at a time: ${single.join(',')}`);
    assert.deepEqual([...batchOk, ...single].sort((a, b) => a - b), Array.from({ length: N }, (_, i) => i).filter((i) => i !== 23));
    await assertCommittedAtEnd('g-chunk', topic);
    const [dead] = (await readTopic(kafka, `${topic}.dlq`, 1)).map((r) => decodeDeadLetter(r.value));
    assert.equal(dead.reason, 'seq 23 is corrupt');
  });

  test('partitionsConsumedConcurrently: chunks of several partitions are in flight at once', async () => {
    const topic = 'batch-concurrent';
    const N = 120;
    await topicWith(topic, 3, Array.from({ length: N }, (_, i) => cropRecord(i)));
    let inFlight = 0;
    let most = 0;
    const seen = new Set<number>();
    const running = await runConsumer(options(topic, 'g-concurrent', {
      batchMaxRecords: 8,
      partitionsConsumedConcurrently: 3,
      handleBatch: async (items) => {
        inFlight++;
        most = Math.max(most, inFlight);
        await sleep(30);
        inFlight--;
        for (const i of items) seen.add(i.value.frame.seq);
        return items.map(() => undefined);
      },
    }));
    await waitFor('all handled', () => seen.size >= N);
    await sleep(300);
    await running.stop();
    assert.ok(most >= 2, `at most ${most} chunk(s) in flight at once`);
    await assertCommittedAtEnd('g-concurrent', topic);
  });
});
