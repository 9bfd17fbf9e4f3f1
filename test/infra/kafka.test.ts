/**
 * Smoke tests of the real Kafka 3.9 broker that scripts/kafka.sh runs (and facestream's distributed mode will use):
 * topics, an idempotent acks=all producer and a consumer group through kafkajs, then SIGKILL + restart on the same
 * port with the data kept.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Kafka, logLevel, Partitioners, Producer } from 'kafkajs';
import { portAccepts } from '../support/infra-script';
import { KafkaBroker, kafkaUnavailableReason, readTopic, startKafka } from '../support/kafka';

const SKIP = kafkaUnavailableReason();
if (SKIP) console.log(`# skipping the real-Kafka tests: ${SKIP}`);

interface Received {
  partition: number;
  offset: string;
  key: string | undefined;
  value: string | undefined;
  headers: Record<string, string>;
}

/** Reads `count` messages of `topic` from the beginning with a new consumer group, as text. */
async function consume(kafka: Kafka, topic: string, count: number, timeoutMs = 60_000): Promise<Received[]> {
  const raw = await readTopic(kafka, topic, count, timeoutMs);
  return raw.map((r) => ({ partition: r.partition, offset: r.offset, key: r.key?.toString(), value: r.value?.toString(), headers: r.headers }));
}

function idempotentProducer(kafka: Kafka): Producer {
  // acks=all is implied (and required) by idempotence; one request in flight keeps per-partition order.
  return kafka.producer({ idempotent: true, maxInFlightRequests: 1, createPartitioner: Partitioners.DefaultPartitioner });
}

describe('real Kafka broker (scripts/kafka.sh)', { skip: SKIP, timeout: 300_000 }, () => {
  let broker: KafkaBroker;
  let kafka: Kafka;

  before(async () => {
    const t0 = Date.now();
    broker = await startKafka();
    console.log(`# kafka broker ${broker.brokers[0]} started in ${((Date.now() - t0) / 1000).toFixed(1)} s (data ${broker.dir})`);
    kafka = new Kafka({
      clientId: 'facestream-infra-test',
      brokers: broker.brokers,
      connectionTimeout: 3000,
      logLevel: logLevel.NOTHING, // the kill/restart test provokes connection errors on purpose
    });
  });

  after(async () => {
    await broker?.stop();
  });

  test('3-partition topic, idempotent acks=all produce, consume with a group', async () => {
    const admin = kafka.admin();
    await admin.connect();
    try {
      const cluster = await admin.describeCluster();
      assert.deepEqual(cluster.brokers.map((b) => `${b.host}:${b.port}`), broker.brokers);
      assert.equal(await admin.createTopics({ topics: [{ topic: 'smoke', numPartitions: 3, replicationFactor: 1 }], waitForLeaders: true }), true);
      const meta = await admin.fetchTopicMetadata({ topics: ['smoke'] });
      const partitions = meta.topics[0].partitions.map((p) => ({ id: p.partitionId, leader: p.leader })).sort((a, b) => a.id - b.id);
      assert.deepEqual(partitions, [{ id: 0, leader: 1 }, { id: 1, leader: 1 }, { id: 2, leader: 1 }]);
      // auto.create.topics.enable=false: an unknown topic is an error, not silently created
      await assert.rejects(admin.fetchTopicMetadata({ topics: ['never-created'] }), /does not host this topic-partition|UNKNOWN_TOPIC/i);
    } finally {
      await admin.disconnect();
    }

    const producer = idempotentProducer(kafka);
    await producer.connect();
    try {
      const meta = await producer.send({
        topic: 'smoke',
        acks: -1,
        messages: [{ partition: 2, key: 'cam-7', value: 'face-event-1', headers: { trace: 'abc' } }],
      });
      assert.equal(meta.length, 1);
      assert.equal(meta[0].partition, 2);
      assert.equal(meta[0].errorCode, 0);
      assert.equal(meta[0].baseOffset, '0');
    } finally {
      await producer.disconnect();
    }

    const got = await consume(kafka, 'smoke', 1);
    assert.deepEqual(got, [{ partition: 2, offset: '0', key: 'cam-7', value: 'face-event-1', headers: { trace: 'abc' } }]);
  });

  test('SIGKILL + restart on the same port keeps topic and data; the same producer carries on', async () => {
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: 'fault', numPartitions: 3, replicationFactor: 1 }], waitForLeaders: true });
    await admin.disconnect();

    const producer = idempotentProducer(kafka);
    await producer.connect();
    try {
      const before = await producer.send({ topic: 'fault', acks: -1, messages: [{ partition: 1, key: 'k', value: 'before-kill' }] });
      assert.equal(before[0].baseOffset, '0');

      await broker.kill9();
      assert.equal(await portAccepts(broker.port), false, `127.0.0.1:${broker.port} still accepts connections after SIGKILL`);

      const t0 = Date.now();
      await broker.restart();
      console.log(`# kafka broker restarted after SIGKILL in ${((Date.now() - t0) / 1000).toFixed(1)} s on ${broker.brokers[0]}`);

      // the producer connected to the killed broker reconnects; offset 1 proves offset 0 survived the kill
      const afterKill = await producer.send({ topic: 'fault', acks: -1, messages: [{ partition: 1, key: 'k', value: 'after-restart' }] });
      assert.equal(afterKill[0].errorCode, 0);
      assert.equal(afterKill[0].baseOffset, '1');
    } finally {
      await producer.disconnect();
    }

    const got = await consume(kafka, 'fault', 2);
    assert.deepEqual(
      got.map((m) => [m.partition, m.offset, m.value]),
      [[1, '0', 'before-kill'], [1, '1', 'after-restart']],
    );
    // the topic created before the kill still has its 3 partitions
    const admin2 = kafka.admin();
    await admin2.connect();
    try {
      const meta = await admin2.fetchTopicMetadata({ topics: ['fault'] });
      assert.equal(meta.topics[0].partitions.length, 3);
    } finally {
      await admin2.disconnect();
    }
  });
});
