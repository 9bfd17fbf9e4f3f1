/**
 * The embed service in-process against a real Kafka 3.9 broker and the real default embedder, fed real face crops
 * (../shared/data/lfw-dev, detected and aligned by mtcnn): every crop comes out as an embedding equal to the
 * embedder's own output for that crop, keyed by camera and in each camera's order, stamped embed.receive/infer/
 * publish; a backlog is embedded in batches larger than one, a lone crop within the max wait; an undecodable record
 * and an unusable crop go to the dead-letter topic with the reason and the original bytes while the stream goes on;
 * offsets are committed to the end after a graceful stop.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  decodeDeadLetter,
  decodeFaceEmbedding,
  encodeFaceCrop,
  faceCropFromAligned,
  recordKey,
  Stage,
  type FaceCrop,
} from '../../src/schema';
import { startEmbedService } from '../../src/services/embed';
import type { ServiceHost } from '../../src/services/host';
import type { OutgoingRecord } from '../../src/transport/producer';
import { kafkaUnavailableReason, startKafka, type KafkaBroker } from '../support/kafka';
import { sharedDir } from '../support/shared';
import { assertCommittedAtEnd, connectKafka, type KafkaClients } from '../transport/helpers';
import { collectTopic, metricsText, readyz, startTestHost, testConfig, uniquePrefix, type TopicCollector } from './helpers';
import { EMBEDDER_NAME, embeddedFaces, type SharedFace } from './shared-faces';

const SKIP = kafkaUnavailableReason() ?? (sharedDir() ? undefined : '../shared is absent (set FACESTREAM_SHARED_DIR): the embed service test needs real faces of data/lfw-dev');
if (SKIP) console.log(`# skipping the embed service tests: ${SKIP}`);

function cosine(a: Float32Array, b: Float32Array): number {
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += a[i] * b[i];
    aa += a[i] * a[i];
    bb += b[i] * b[i];
  }
  return ab / Math.sqrt(aa * bb);
}

describe('embed service (real Kafka, real embedder)', { skip: SKIP, timeout: 300_000 }, () => {
  let broker: KafkaBroker;
  let k: KafkaClients;
  let faces: SharedFace[];

  before(async () => {
    const t0 = Date.now();
    [broker, faces] = await Promise.all([startKafka(), embeddedFaces(4, 2)]);
    console.log(`# kafka broker and 8 reference faces ready in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    k = await connectKafka(broker.brokers, 'embed-service-test');
  });

  after(async () => {
    await k?.close();
    await broker?.stop();
  });

  /** Crop record number n: face n % 8, camera cam-(n % 4), frame seq n. */
  function crop(n: number, t0: number): FaceCrop {
    const f = faces[n % faces.length];
    const camera = `cam-${n % 4}`;
    return faceCropFromAligned(
      f.face,
      { id: `${camera}-track-${Math.floor(n / 8)}`, camera, firstSeen: t0 },
      { seq: n, ts: t0 + n, width: f.frame.width, height: f.frame.height },
      { model: EMBEDDER_NAME, faceJpeg: f.jpeg, stages: [{ stage: Stage.ingestDecode, tsMs: t0 + n }, { stage: Stage.ingestPublish, tsMs: t0 + n + 5 }] },
    );
  }

  const record = (c: FaceCrop): OutgoingRecord => ({ key: recordKey(c), value: encodeFaceCrop(c) });

  test('crops in → embeddings out (batched under load, alone within the max wait); bad records → DLQ; the stream goes on', async () => {
    const prefix = uniquePrefix('embed');
    const config = testConfig(broker.brokers, prefix, { embedder: { maxBatch: 8 }, services: { embed: { maxWaitMs: 20 } } });
    const host: ServiceHost = await startTestHost('embed', config);
    let out: TopicCollector | undefined;
    let dlq: TopicCollector | undefined;
    try {
      out = await collectTopic(k.kafka, host.topics.embeddings);
      dlq = await collectTopic(k.kafka, host.topics.dlq);
      const t0 = Date.now();
      const N = 48;
      const garbage = Buffer.from('not a FaceCrop at all \u0000\u00ff\u0001');
      const tiny = crop(1000, t0);
      tiny.crop = { width: 4, height: 4, data: new Uint8Array(4 * 4 * 3) };
      const tinyBytes = encodeFaceCrop(tiny);
      const records: OutgoingRecord[] = [];
      for (let n = 0; n < N; n++) {
        records.push(record(crop(n, t0)));
        if (n === 20) records.push({ key: 'cam-0', value: garbage });
        if (n === 30) records.push({ key: recordKey(tiny), value: tinyBytes });
      }
      // A backlog first, then the service: it meets a full topic (load).
      for (let i = 0; i < records.length; i += 8) await k.producer.send(host.topics.faces, records.slice(i, i + 8)); // < 1 MB per request
      const started = Date.now();
      await startEmbedService(host);
      await out.waitFor(`${N} embeddings`, (r) => r.length >= N, 120_000);
      const backlogS = (Date.now() - started) / 1000;

      // A lone crop once the backlog is done: embedded alone, after at most the max wait (plus inference).
      const sentAt = Date.now();
      await k.producer.send(host.topics.faces, [record(crop(N, Date.now()))]);
      await out.waitFor('the lone crop', (r) => r.length >= N + 1, 30_000);
      const loneMs = Date.now() - sentAt;
      await dlq.waitFor('2 dead letters', (r) => r.length >= 2, 30_000);

      const ready = await readyz(host.httpPort);
      assert.equal(ready.status, 200, JSON.stringify(ready.body));
      assert.equal(ready.body.checks?.embedder?.ok, true);
      assert.match(ready.body.checks?.embedder?.detail ?? '', /faceapi-resnet128 on cpu/);

      const batches = (await host.service.batchSize.get()).values;
      const count = batches.find((v) => v.metricName?.endsWith('_count') && v.labels.service === 'embed')?.value ?? 0;
      const sum = batches.find((v) => v.metricName?.endsWith('_sum') && v.labels.service === 'embed')?.value ?? 0;
      const ones = batches.find((v) => v.metricName?.endsWith('_bucket') && v.labels.service === 'embed' && (v.labels as Record<string, unknown>).le === 1)?.value ?? 0;
      const text = await metricsText(host.httpPort);
      console.log(`# ${N} crops embedded in ${backlogS.toFixed(1)} s (${count} inferences, mean batch ${(sum / count).toFixed(2)}, ${ones} of size 1); lone crop embedded in ${loneMs} ms`);

      await host.shutdown('test done');

      // Every valid crop exactly once, equal to the embedder's own output, keyed by camera, in camera order.
      const got = out.records.map((r) => ({ key: r.key, partition: r.partition, e: decodeFaceEmbedding(r.value) }));
      assert.equal(got.length, N + 1, 'one embedding per valid crop');
      assert.deepEqual([...new Set(got.map((g) => g.e.frame.seq))].sort((a, b) => a - b), Array.from({ length: N + 1 }, (_, i) => i));
      for (const { key, e } of got) {
        const n = e.frame.seq;
        assert.equal(key, `cam-${n % 4}`);
        assert.equal(e.camera, key);
        assert.equal(e.model, EMBEDDER_NAME);
        assert.equal(e.embedding.length, 128);
        const c = cosine(e.embedding, faces[n % faces.length].embedding!);
        assert.ok(c > 0.9999, `seq ${n}: cosine to the embedder's own output ${c}`);
        assert.deepEqual(e.stages.map((s) => s.stage), [Stage.ingestDecode, Stage.ingestPublish, Stage.embedReceive, Stage.embedInfer, Stage.embedPublish]);
        for (const i of [3, 4]) assert.ok(e.stages[i].tsMs >= e.stages[i - 1].tsMs, `embed stamps of seq ${n} in time order`);
        assert.ok(e.faceJpeg && e.faceJpeg.length > 100, 'the face JPEG travels on');
        assert.equal(e.track.id, `cam-${n % 4}-track-${Math.floor(n / 8)}`);
      }
      const byCamera = new Map<string, number[]>();
      for (const { e } of got) byCamera.set(e.camera, [...(byCamera.get(e.camera) ?? []), e.frame.seq]);
      for (const [camera, seqs] of byCamera) assert.deepEqual(seqs, [...seqs].sort((a, b) => a - b), `${camera}: records stay in order`);
      assert.equal(new Set(got.filter((g) => g.key === 'cam-1').map((g) => g.partition)).size, 1, 'a camera stays on one partition');

      // Batching: a backlog of 48 is not embedded one crop at a time.
      assert.ok(count >= 2 && count < N, `inferences: ${count} for ${N + 1} crops`);
      assert.ok(sum / count > 1.5, `mean batch size ${sum / count}`);
      assert.equal(sum, N + 1, 'every embedded crop counted in a batch');
      assert.ok(loneMs < 5000, `a lone crop waits at most the max wait plus one inference (${loneMs} ms)`);

      // Dead letters: the reason and the original bytes.
      const dead = dlq.records.map((r) => ({ key: r.key, d: decodeDeadLetter(r.value) })).sort((a, b) => Number(a.d.offset) - Number(b.d.offset));
      assert.equal(dead.length, 2);
      assert.equal(dead[0].d.service, 'embed');
      assert.equal(dead[0].d.sourceTopic, host.topics.faces);
      assert.equal(dead[0].key, 'cam-0');
      assert.match(dead[0].d.reason, /protobuf|invalid|wire|index out of range/i);
      assert.deepEqual(Buffer.from(dead[0].d.original!), garbage);
      assert.match(dead[1].d.reason, /unusable crop: .*4x4.*150x150/);
      assert.deepEqual(Buffer.from(dead[1].d.original!), tinyBytes);

      // Metrics of the run.
      assert.match(text, /facestream_embeddings_total \d+/);
      assert.equal(Number(/facestream_embeddings_total (\d+)/.exec(text)![1]), N + 1);
      assert.match(text, /facestream_hop_seconds_count\{stage="embed.infer"\} \d+/);
      assert.match(text, /facestream_dead_letters_total\{topic="[^"]+faces"\} 2/);
      assert.match(text, /facestream_stage_duration_seconds_count\{stage="embed"\} \d+/);

      // Committed to the end after the graceful stop.
      await assertCommittedAtEnd(k.admin, host.groupId(), host.topics.faces);
    } finally {
      await out?.stop().catch(() => undefined);
      await dlq?.stop().catch(() => undefined);
      await host.shutdown('test cleanup');
    }
  });
});
