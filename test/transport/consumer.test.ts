/**
 * The at-least-once consumer against a real Kafka 3.9 broker: every record handled exactly once in normal
 * operation with committed offsets equal to the end offsets after stop(); undecodable records and non-retryable
 * handler failures go to the dead-letter topic (reason + original bytes) while the stream goes on; retryable
 * failures are retried, not dead-lettered; a graceful stop and a SIGKILLed consumer process both resume in the same
 * group after the last committed record, losing nothing (duplicates measured).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Registry, Gauge } from 'prom-client';
import { decodeDeadLetter, decodeFaceCrop, type FaceCrop } from '../../src/schema';
import { RetryableError, runConsumer, type LagSample, type RunConsumerOptions } from '../../src/transport/consumer';
import { KafkaBroker, kafkaUnavailableReason, startKafka } from '../support/kafka';
import {
  assertCommittedAtEnd,
  connectKafka,
  cropConsumerOptions,
  cropRecord,
  cropRecords,
  readTopic,
  sleep,
  topicWithDlq,
  waitFor,
  type KafkaClients,
} from './helpers';

const SKIP = kafkaUnavailableReason();
if (SKIP) console.log(`# skipping the transport consumer tests: ${SKIP}`);

describe('at-least-once consumer (real Kafka)', { skip: SKIP, timeout: 240_000 }, () => {
  let broker: KafkaBroker;
  let k: KafkaClients;

  before(async () => {
    const t0 = Date.now();
    broker = await startKafka();
    console.log(`# kafka broker started in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    k = await connectKafka(broker.brokers, 'transport-consumer-test');
  });

  after(async () => {
    await k?.close();
    await broker?.stop();
  });

  const topicWith = (topic: string, n: number) => topicWithDlq(k, topic, 3, cropRecords(n));
  const options = (topic: string, groupId: string, handle: RunConsumerOptions<FaceCrop>['handle']) => cropConsumerOptions(k, topic, groupId, { handle });

  test('every record is handled exactly once; committed offsets equal the end offsets after stop(); lag reported', async () => {
    const topic = 'normal';
    const N = 300;
    await topicWith(topic, N);
    const seen = new Map<number, number>();
    const lags: LagSample[] = [];
    const registry = new Registry();
    const gauge = new Gauge({ name: 'lag', help: 'lag', labelNames: ['topic', 'partition', 'group'] as const, registers: [registry] });
    const running = await runConsumer({
      ...options(topic, 'g-normal', async (crop) => void seen.set(crop.frame.seq, (seen.get(crop.frame.seq) ?? 0) + 1)),
      onLag: (s) => lags.push(s),
      lagGauge: gauge,
    });
    await waitFor(`${N} records handled`, () => seen.size >= N);
    await sleep(500);
    await running.stop();
    assert.equal(seen.size, N);
    assert.deepEqual([...seen.values()].filter((c) => c !== 1), [], 'records handled more than once');
    await assertCommittedAtEnd(k.admin, 'g-normal', topic);
    assert.ok(lags.length > 0, 'lag callback called');
    for (const p of [0, 1, 2]) {
      const lastOfP = lags.filter((s) => s.partition === p).at(-1);
      assert.equal(lastOfP?.lag, 0, `final lag of partition ${p}`);
    }
    const metric = await registry.getSingleMetric('lag')!.get();
    assert.equal(metric.values.length, 3);
    assert.ok(metric.values.every((v) => v.value === 0 && v.labels.group === 'g-normal'));
  });

  test('a garbage record and a non-retryable failure go to the DLQ; a retryable failure is retried; the stream goes on', async () => {
    const topic = 'dirty';
    const garbage = Buffer.from('definitely not a protobuf FaceCrop \u0000\u00ff');
    await topicWithDlq(k, topic, 1, [cropRecord(0), { key: 'cam-x', value: garbage }, ...cropRecords(5, 1)]);
    const handled: number[] = [];
    let flaky = 0;
    const running = await runConsumer(options(topic, 'g-dirty', async (crop) => {
      if (crop.frame.seq === 3) throw new Error('cannot process seq 3: bad crop geometry');
      if (crop.frame.seq === 4 && flaky++ < 3) throw new RetryableError('downstream unavailable');
      handled.push(crop.frame.seq);
    }));
    await waitFor('records after the bad ones handled', () => handled.includes(5));
    await sleep(300);
    await running.stop();
    assert.deepEqual(handled, [0, 1, 2, 4, 5]);
    assert.equal(flaky, 4, 'seq 4 failed 3 times (retryable) and then succeeded');
    await assertCommittedAtEnd(k.admin, 'g-dirty', topic);

    const dead = (await readTopic(k.kafka, `${topic}.dlq`, 2)).map((r) => ({ key: r.key?.toString(), d: decodeDeadLetter(r.value) }));
    assert.equal(dead.length, 2);
    const [g, h] = dead.sort((a, b) => Number(a.d.offset) - Number(b.d.offset));
    assert.equal(g.d.offset, '1');
    assert.equal(g.d.sourceTopic, topic);
    assert.equal(g.d.service, 'test');
    assert.equal(g.key, 'cam-x');
    assert.match(g.d.reason, /protobuf|invalid|wire|index out of range/i);
    assert.deepEqual(Buffer.from(g.d.original!), garbage);
    assert.equal(h.d.offset, '4');
    assert.equal(h.d.reason, 'cannot process seq 3: bad crop geometry');
    assert.equal(decodeFaceCrop(Buffer.from(h.d.original!)).frame.seq, 3);
  });

  test('a consumer stopped mid-stream and restarted in the same group resumes after the last committed record', async () => {
    const topic = 'resume';
    const N = 300;
    await topicWith(topic, N);
    const counts = new Map<number, number>();
    const handle = async (crop: FaceCrop) => {
      await sleep(3);
      counts.set(crop.frame.seq, (counts.get(crop.frame.seq) ?? 0) + 1);
    };
    const first = await runConsumer(options(topic, 'g-resume', handle));
    await waitFor('100 handled', () => counts.size >= 100);
    await first.stop();
    const beforeRestart = counts.size;
    assert.ok(beforeRestart < N, `stopped mid-stream (${beforeRestart} of ${N})`);
    const second = await runConsumer(options(topic, 'g-resume', handle));
    await waitFor('all handled', () => counts.size >= N);
    await sleep(500);
    await second.stop();
    const dups = [...counts.values()].reduce((s, c) => s + c - 1, 0);
    console.log(`# graceful stop after ${beforeRestart} of ${N}: duplicates after restart ${dups}`);
    assert.equal(counts.size, N, 'no record lost');
    assert.equal(dups, 0, 'a graceful stop commits everything it handled');
    await assertCommittedAtEnd(k.admin, 'g-resume', topic);
  });

  test('a consumer process SIGKILLed mid-stream: the next member loses nothing; duplicates are only the records handled since the last commit', async () => {
    const topic = 'crash';
    const N = 400;
    await topicWith(topic, N);
    const child = spawn(process.execPath, [path.join(__dirname, 'crash-child.js'), broker.brokers.join(','), topic, 'g-crash', `${topic}.dlq`], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const byChild = new Set<number>();
    let buf = '';
    child.stdout.on('data', (chunk: Buffer) => {
      buf += chunk.toString();
      const lines = buf.split('\n');
      buf = lines.pop() ?? '';
      for (const l of lines) if (l.startsWith('handled ')) byChild.add(Number(l.slice(8)));
    });
    // 'close' (not 'exit'): every line the child wrote before the kill has been read by then.
    const exited = new Promise((r) => child.once('close', r));
    try {
      await waitFor('child handled 120', () => byChild.size >= 120, 60_000);
    } finally {
      child.kill('SIGKILL');
      await exited;
    }
    const [committed] = await k.admin.fetchOffsets({ groupId: 'g-crash', topics: [topic] });
    const committedCount = committed.partitions.reduce((s, p) => s + Math.max(0, Number(p.offset)), 0);
    const after = new Map<number, number>();
    const second = await runConsumer(options(topic, 'g-crash', async (crop) => void after.set(crop.frame.seq, (after.get(crop.frame.seq) ?? 0) + 1)));
    const t0 = Date.now();
    await waitFor('the rest handled', () => new Set([...byChild, ...after.keys()]).size >= N, 60_000);
    await sleep(500);
    await second.stop();
    const dups = [...after.keys()].filter((s) => byChild.has(s)).length;
    console.log(`# SIGKILL after ${byChild.size} handled (${committedCount} committed): resumed in ${((Date.now() - t0) / 1000).toFixed(1)} s, ` +
      `${dups} duplicates (handled but uncommitted when killed)`);
    assert.equal(new Set([...byChild, ...after.keys()]).size, N, 'no record lost');
    assert.ok([...after.values()].every((c) => c === 1), 'the restarted member handled each record once');
    assert.equal(dups, byChild.size - committedCount, 'duplicates are exactly the handled-but-uncommitted records');
    assert.ok(dups <= 50, `duplicates (${dups}) bounded by commitEveryRecords (50)`);
    await assertCommittedAtEnd(k.admin, 'g-crash', topic);
  });
});
