/**
 * runConsumer's batch mode against a real Kafka 3.9 broker: chunks of at most batchMaxRecords records of one
 * partition, in order; per-item failures dead-lettered alone; a chunk-wide retryable failure retried; a chunk-wide
 * non-retryable failure resolved one record at a time so that only the record at fault is dead-lettered; chunks of
 * several partitions in flight at once with partitionsConsumedConcurrently; everything committed to the end.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { decodeDeadLetter, decodeFaceCrop, type FaceCrop } from '../../src/schema';
import { RetryableError, runConsumer, type BatchItem } from '../../src/transport/consumer';
import { kafkaUnavailableReason, startKafka, type KafkaBroker } from '../support/kafka';
import { assertCommittedAtEnd, connectKafka, cropConsumerOptions, cropRecords, readTopic, sleep, topicWithDlq, waitFor, type KafkaClients } from './helpers';

const SKIP = kafkaUnavailableReason();
if (SKIP) console.log(`# skipping the batch-mode consumer tests: ${SKIP}`);

describe('at-least-once consumer, batch mode (real Kafka)', { skip: SKIP, timeout: 240_000 }, () => {
  let broker: KafkaBroker;
  let k: KafkaClients;

  before(async () => {
    broker = await startKafka();
    k = await connectKafka(broker.brokers, 'transport-consumer-batch-test');
  });

  after(async () => {
    await k?.close();
    await broker?.stop();
  });

  test('chunks of at most batchMaxRecords, in partition order; per-item failures and garbage dead-lettered alone; onHandled counts', async () => {
    const topic = 'batch-items';
    const garbage = Buffer.from('garbage \u0000\u00ff');
    const N = 100;
    const records = cropRecords(N);
    records.splice(40, 0, { key: 'cam-4', value: garbage });
    await topicWithDlq(k, topic, 1, records);
    const sizes: number[] = [];
    const handled: number[] = [];
    let counted = 0;
    const running = await runConsumer(cropConsumerOptions(k, topic, 'g-items', {
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
    await assertCommittedAtEnd(k.admin, 'g-items', topic);
    const dead = (await readTopic(k.kafka, `${topic}.dlq`, 5)).map((r) => decodeDeadLetter(r.value)).sort((a, b) => Number(a.offset) - Number(b.offset));
    assert.equal(dead.length, 5);
    assert.deepEqual(Buffer.from(dead[2].original!), garbage);
    assert.equal(dead[2].offset, '40');
    assert.deepEqual(dead.filter((d) => d.offset !== '40').map((d) => d.reason), bad.map((s) => `seq ${s} cannot be processed`));
    assert.deepEqual(dead.filter((d) => d.offset !== '40').map((d) => decodeFaceCrop(Buffer.from(d.original!)).frame.seq), bad);
  });

  test('a chunk-wide retryable failure is retried; a chunk-wide other failure is resolved one record at a time', async () => {
    const topic = 'batch-chunk';
    const N = 40;
    await topicWithDlq(k, topic, 1, cropRecords(N));
    let flaky = 0;
    const batchOk: number[] = [];
    const single: number[] = [];
    const running = await runConsumer(cropConsumerOptions(k, topic, 'g-chunk', {
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
    await assertCommittedAtEnd(k.admin, 'g-chunk', topic);
    const [dead] = (await readTopic(k.kafka, `${topic}.dlq`, 1)).map((r) => decodeDeadLetter(r.value));
    assert.equal(dead.reason, 'seq 23 is corrupt');
  });

  test('partitionsConsumedConcurrently: chunks of several partitions are in flight at once', async () => {
    const topic = 'batch-concurrent';
    const N = 120;
    await topicWithDlq(k, topic, 3, cropRecords(N));
    let inFlight = 0;
    let most = 0;
    const seen = new Set<number>();
    const running = await runConsumer(cropConsumerOptions(k, topic, 'g-concurrent', {
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
    await assertCommittedAtEnd(k.admin, 'g-concurrent', topic);
  });
});
