/**
 * The topic plan and the idempotent producer against a real Kafka 3.9 broker (scripts/kafka.sh): topics are created
 * with the planned partitions and configs, ensureTopics is idempotent and never alters an existing topic, and a send
 * made while the broker is SIGKILLed is retried until the restarted broker acknowledges it, written exactly once.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ConfigResourceTypes, type Admin, type Kafka } from 'kafkajs';
import { decodeFaceCrop } from '../../src/schema';
import { createProducer } from '../../src/transport/producer';
import { DEFAULT_TOPIC_SETTINGS, ensureTopics, TOPIC_ROLES, topicPlan } from '../../src/transport/topics';
import { KafkaBroker, kafkaUnavailableReason, startKafka } from '../support/kafka';
import { createTopics, cropRecord, readTopic, testKafka } from './helpers';

const SKIP = kafkaUnavailableReason();
if (SKIP) console.log(`# skipping the transport tests: ${SKIP}`);

describe('topic plan and idempotent producer (real Kafka)', { skip: SKIP, timeout: 240_000 }, () => {
  let broker: KafkaBroker;
  let kafka: Kafka;
  let admin: Admin;

  before(async () => {
    const t0 = Date.now();
    broker = await startKafka();
    console.log(`# kafka broker started in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    kafka = testKafka(broker.brokers, 'transport-topics-test');
    admin = kafka.admin();
    await admin.connect();
  });

  after(async () => {
    await admin?.disconnect().catch(() => undefined);
    await broker?.stop();
  });

  test('topicPlan: defaults, prefix, overrides, invalid values rejected', () => {
    const plan = topicPlan();
    assert.deepEqual(TOPIC_ROLES.map((r) => plan.topics[r].name), ['facestream.faces', 'facestream.embeddings', 'facestream.alerts', 'facestream.cameras', 'facestream.dlq']);
    assert.equal(plan.topics.faces.partitions, 12);
    assert.equal(plan.topics.cameras.compact, true);
    const custom = topicPlan({ prefix: 'site1.', topics: { faces: { partitions: 24 } } });
    assert.equal(custom.topics.faces.name, 'site1.faces');
    assert.equal(custom.topics.faces.partitions, 24);
    assert.equal(custom.topics.faces.retentionMs, DEFAULT_TOPIC_SETTINGS.faces.retentionMs);
    assert.throws(() => topicPlan({ topics: { alerts: { partitions: 0 } } }), /alerts\.partitions must be an integer >= 1/);
    assert.throws(() => topicPlan({ prefix: 'bad prefix/' }), /not a valid Kafka topic name/);
  });

  test('ensureTopics creates the plan with its partitions and configs, then is idempotent', async () => {
    const plan = topicPlan({ prefix: 'ens.' });
    const first = await ensureTopics(admin, plan);
    assert.deepEqual([...first.created].sort(), TOPIC_ROLES.map((r) => `ens.${r}`).sort());
    assert.deepEqual(first.warnings, []);

    const names = TOPIC_ROLES.map((r) => plan.topics[r].name);
    const meta = await admin.fetchTopicMetadata({ topics: names });
    for (const role of TOPIC_ROLES) {
      const t = meta.topics.find((m) => m.name === plan.topics[role].name);
      assert.equal(t?.partitions.length, plan.topics[role].partitions, `${role} partitions`);
    }
    const described = await admin.describeConfigs({
      includeSynonyms: false,
      resources: names.map((name) => ({ type: ConfigResourceTypes.TOPIC, name, configNames: ['cleanup.policy', 'retention.ms'] })),
    });
    const config = (name: string, key: string) =>
      described.resources.find((r) => r.resourceName === name)?.configEntries.find((e) => e.configName === key)?.configValue;
    assert.equal(config('ens.cameras', 'cleanup.policy'), 'compact');
    assert.equal(config('ens.faces', 'cleanup.policy'), 'delete');
    assert.equal(config('ens.faces', 'retention.ms'), String(3_600_000));
    assert.equal(config('ens.embeddings', 'retention.ms'), String(6 * 3_600_000));
    assert.equal(config('ens.alerts', 'retention.ms'), String(7 * 86_400_000));
    assert.equal(config('ens.dlq', 'retention.ms'), String(14 * 86_400_000));

    const second = await ensureTopics(admin, plan);
    assert.deepEqual(second.created, []);
    assert.deepEqual([...second.existing].sort(), [...names].sort());
    assert.deepEqual(second.warnings, []);
  });

  test('ensureTopics warns about an existing topic with fewer partitions and leaves it unchanged', async () => {
    await createTopics(admin, { topics: [{ topic: 'few.faces', numPartitions: 2 }] });
    const warned: string[] = [];
    const res = await ensureTopics(admin, topicPlan({ prefix: 'few.' }), (m) => warned.push(m));
    assert.equal(res.created.length, 4);
    assert.deepEqual(res.existing, ['few.faces']);
    assert.equal(warned.length, 1);
    assert.match(warned[0], /few\.faces has 2 partitions, the plan asks for 12: left unchanged/);
    const meta = await admin.fetchTopicMetadata({ topics: ['few.faces'] });
    assert.equal(meta.topics[0].partitions.length, 2);
  });

  test('a non-retriable send error is surfaced, not swallowed or retried forever', async () => {
    await createTopics(admin, { topics: [{ topic: 'small', numPartitions: 1, configEntries: [{ name: 'max.message.bytes', value: '1024' }] }] });
    const producer = createProducer(kafka);
    await producer.connect();
    try {
      await assert.rejects(producer.send('small', [{ key: 'cam-0', value: Buffer.alloc(4096, 7) }]), (err: Error) => {
        assert.match(err.message, /larger than the (maximum|max)|too large/i);
        return true;
      });
      const ok = await producer.send('small', [{ key: 'cam-0', value: Buffer.from('fits') }]);
      assert.equal(ok[0].errorCode, 0);
    } finally {
      await producer.disconnect();
    }
  });

  test('a send during a broker SIGKILL is retried, succeeds after restart, and is written once', async () => {
    const topic = 'outage';
    await createTopics(admin, { topics: [{ topic, numPartitions: 3 }] });
    const producer = createProducer(kafka);
    await producer.connect();
    try {
      const before = Array.from({ length: 10 }, (_, i) => cropRecord(i));
      await producer.send(topic, before);

      // The outage send never reaches the broker, so this checks retry-until-acknowledged and an exact log; a
      // duplicate from a lost acknowledgement (what idempotence prevents) is not provoked deterministically here.
      await broker.kill9();
      const t0 = Date.now();
      const during = Array.from({ length: 10 }, (_, i) => cropRecord(10 + i));
      let settled = false;
      const pending = producer.send(topic, during).finally(() => (settled = true));
      await new Promise((r) => setTimeout(r, 2000));
      assert.equal(settled, false, 'the send resolved while the broker was down');
      await broker.restart();
      const meta = await pending;
      console.log(`# send during outage acknowledged ${((Date.now() - t0) / 1000).toFixed(1)} s after SIGKILL`);
      assert.ok(meta.every((m) => m.errorCode === 0));
      await producer.send(topic, [cropRecord(20)]);
    } finally {
      await producer.disconnect();
    }
    const offsets = await admin.fetchTopicOffsets(topic);
    const total = offsets.reduce((s, o) => s + Number(o.high) - Number(o.low), 0);
    assert.equal(total, 21, 'records in the log (a duplicate would make this > 21)');
    const got = await readTopic(kafka, topic, 21);
    const seqs = got.map((r) => decodeFaceCrop(r.value).frame.seq).sort((a, b) => a - b);
    assert.deepEqual(seqs, Array.from({ length: 21 }, (_, i) => i));
    // Per-camera order holds in each partition.
    for (let p = 0; p < 3; p++) {
      const inP = got.filter((r) => r.partition === p).sort((a, b) => Number(a.offset) - Number(b.offset));
      const byCam = new Map<string, number[]>();
      for (const r of inP) {
        const c = decodeFaceCrop(r.value);
        byCam.set(c.camera, [...(byCam.get(c.camera) ?? []), c.frame.seq]);
      }
      for (const [cam, s] of byCam) assert.deepEqual(s, [...s].sort((a, b) => a - b), `order of ${cam}`);
    }
  });
});
