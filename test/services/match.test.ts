/**
 * The match service in-process against a real Kafka 3.9 broker and a real Redis (append-only, fsynced: survives
 * kill -9), with real embeddings of ../shared/data/lfw-dev faces (mtcnn + the default embedder) and a gallery
 * saved in Redis with its model, at the embedder's default thresholds:
 * - embeddings of an enrolled person → exactly one AlertRecord per track (deterministic id, stages, picture);
 *   strangers → none; the same person again on the camera within the cooldown → none (window shared in Redis);
 * - a gallery update in Redis (a new identity, saved WITHOUT a model: the service trains it) is picked up without
 *   a restart;
 * - Redis killed while matching: matching goes on from memory (alerts still published, cooldown kept in memory),
 *   /readyz reports degraded; after Redis returns, ready again and newer versions are followed;
 * - undecodable records and embeddings of another model go to the dead-letter topic.
 * "No alert" is asserted after a later record of the same camera (same partition, so handled after it) alerted.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { alertId } from '../../src/alerts/alert';
import { addIdentity, createGallery, defaultThresholds, setThresholds, slugify, type Gallery } from '../../src/match/gallery';
import { buildMatcher } from '../../src/match/matcher';
import { openRedisGallery } from '../../src/match/redis-store';
import { trainGallery } from '../../src/match/svm';
import { decodeAlertRecord, decodeDeadLetter, encodeFaceEmbedding, Stage, type AlertRecord, type FaceEmbedding } from '../../src/schema';
import type { ServiceHost } from '../../src/services/host';
import { startMatchService } from '../../src/services/match';
import { kafkaUnavailableReason, startKafka, type KafkaBroker } from '../support/kafka';
import { redisUnavailableReason, startRedis, type RedisServer } from '../support/redis';
import { sharedDir } from '../support/shared';
import { connectKafka, type KafkaClients } from '../transport/helpers';
import { collectTopic, metricsText, readyz, startTestHost, testConfig, testLogger, uniquePrefix, waitUntil, type TopicCollector } from './helpers';
import { EMBEDDER_NAME, embeddedFaces, type SharedFace } from './shared-faces';

const SKIP =
  kafkaUnavailableReason() ??
  redisUnavailableReason() ??
  (sharedDir() ? undefined : '../shared is absent (set FACESTREAM_SHARED_DIR): the match service test needs real faces of data/lfw-dev');
if (SKIP) console.log(`# skipping the match service tests: ${SKIP}`);

describe('match service (real Kafka, real Redis, real embeddings)', { skip: SKIP, timeout: 420_000 }, () => {
  let broker: KafkaBroker;
  let redis: RedisServer;
  let k: KafkaClients;
  let host: ServiceHost;
  let alerts: TopicCollector;
  let dlq: TopicCollector;
  let people: string[];
  /** person → 5 faces (the first 4 enrolled, the 5th the probe). */
  const faces = new Map<string, SharedFace[]>();
  let strangers: SharedFace[];
  let prefix: string;
  let seq = 0;
  const t0 = Date.now();

  const probe = (person: string) => faces.get(person)![4];
  const idOf = (person: string) => slugify(person);

  function embedding(f: SharedFace, camera: string, trackId: string, model = EMBEDDER_NAME): FaceEmbedding {
    const n = ++seq;
    return {
      camera,
      track: { id: trackId, firstSeenMs: t0 + 1000 * n },
      frame: { seq: n, tsMs: Date.now(), width: f.frame.width, height: f.frame.height },
      detection: f.face.detection,
      quality: f.face.quality,
      model,
      faceJpeg: f.jpeg,
      stages: [{ stage: Stage.ingestDecode, tsMs: Date.now() - 20 }, { stage: Stage.embedPublish, tsMs: Date.now() - 5 }],
      embedding: f.embedding!,
    };
  }

  async function send(...records: FaceEmbedding[]): Promise<void> {
    await k.producer.send(host.topics.embeddings, records.map((e) => ({ key: e.camera, value: encodeFaceEmbedding(e) })));
  }

  const decoded = (): AlertRecord[] => alerts.records.map((r) => decodeAlertRecord(r.value));
  const alertsOf = (camera: string, trackId?: string) => decoded().filter((a) => a.alert.camera === camera && (trackId === undefined || a.alert.trackId === trackId));
  const waitAlert = (camera: string, trackId: string, ms = 60_000) =>
    alerts.waitFor(`an alert for ${camera}/${trackId}`, () => alertsOf(camera, trackId).length > 0, ms);

  function enrol(g: Gallery, person: string): Gallery {
    return addIdentity(g, { name: person, id: idOf(person), embedder: EMBEDDER_NAME, embeddings: faces.get(person)!.slice(0, 4).map((f) => f.embedding!) }).gallery;
  }

  async function withStore<T>(fn: (s: ReturnType<typeof openRedisGallery>) => Promise<T>): Promise<T> {
    const s = openRedisGallery(redis.url, { prefix: `${prefix}:`, log: testLogger() });
    try {
      return await fn(s);
    } finally {
      await s.close();
    }
  }

  async function metric(name: string, labels = ''): Promise<number> {
    const text = await metricsText(host.httpPort);
    const m = new RegExp(`^${name}${labels.replace(/[{}]/g, '\\$&')} (\\S+)$`, 'm').exec(text);
    return m ? Number(m[1]) : NaN;
  }

  before(async () => {
    const started = Date.now();
    const prep = (async () => {
      const all = await embeddedFaces(4, 5);
      people = [...new Set(all.map((f) => f.person))];
      for (const p of people) faces.set(p, all.filter((f) => f.person === p));
      strangers = await embeddedFaces(4, 1, 'lfw-dev-unknown');
    })();
    [broker, redis] = await Promise.all([startKafka(), startRedis({ persist: true }), prep]).then(([b, r]) => [b, r] as const);
    console.log(`# kafka, redis and ${4 * 5 + 4} real embeddings ready in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    k = await connectKafka(broker.brokers, 'match-service-test');

    // The gallery: the first three people, with its model, at the embedder's default thresholds.
    prefix = uniquePrefix('match');
    let g = createGallery({ embedder: EMBEDDER_NAME, dim: 128, metric: 'euclidean', thresholds: defaultThresholds('euclidean', 0.35) });
    for (const p of people.slice(0, 3)) g = enrol(g, p);
    const model = trainGallery(g);
    // Preconditions (the matcher itself, outside the service): who is accepted and who is not.
    const m = buildMatcher(g, model);
    for (const p of people.slice(0, 3)) assert.equal(m.match(probe(p).embedding!).identity, idOf(p), `precondition: ${p}'s probe is accepted`);
    assert.equal(m.match(probe(people[3]).embedding!).accepted, false, `precondition: ${people[3]} (not enrolled) is rejected`);
    for (const s of strangers) assert.equal(m.match(s.embedding!).accepted, false, `precondition: stranger ${s.person} is rejected`);
    const v = await withStore((s) => s.save(g, model));
    assert.equal(v, 1);

    const config = testConfig(broker.brokers, prefix, { redis: { url: redis.url, prefix: `${prefix}:` }, alerts: { cooldownSec: 3600 } });
    host = await startTestHost('match', config);
    alerts = await collectTopic(k.kafka, host.topics.alerts);
    dlq = await collectTopic(k.kafka, host.topics.dlq);
    await startMatchService(host);
    await waitUntil('match ready', async () => (await readyz(host.httpPort)).status === 200, 60_000);
  });

  after(async () => {
    await alerts?.stop().catch(() => undefined);
    await dlq?.stop().catch(() => undefined);
    await host?.shutdown('test done');
    await k?.close();
    await Promise.allSettled([broker?.stop(), redis?.stop()]);
  });

  test('an enrolled face → exactly one alert per track; strangers → none; the same person within the cooldown → none', async () => {
    const [a, b] = people;
    const e1 = embedding(probe(a), 'cam-a', 'a1');
    await send(e1, embedding(probe(a), 'cam-a', 'a1'));
    await send(...strangers.map((s, i) => embedding(s, 'cam-s', `s${i}`)), embedding(probe(b), 'cam-s', 'sentinel'));
    await waitAlert('cam-a', 'a1');
    await waitAlert('cam-s', 'sentinel');
    // The same person on the same camera, new track: within the cooldown. Then someone else (sentinel).
    await send(embedding(probe(a), 'cam-a', 'a2'), embedding(probe(b), 'cam-a', 'a3'));
    await waitAlert('cam-a', 'a3');
    await new Promise((r) => setTimeout(r, 500));

    assert.equal(alertsOf('cam-a', 'a1').length, 1, 'one alert for the track (two embeddings)');
    assert.deepEqual(alertsOf('cam-s').map((x) => x.alert.trackId), ['sentinel'], 'no alert for the strangers');
    assert.deepEqual(alertsOf('cam-a').map((x) => x.alert.trackId), ['a1', 'a3'], 'no alert for a2 (cooldown)');

    const [rec] = alertsOf('cam-a', 'a1');
    const key = alerts.records.find((r) => decodeAlertRecord(r.value).alert.id === rec.alert.id)!.key;
    assert.equal(key, 'cam-a', 'keyed by camera');
    assert.equal(rec.alert.identity.id, idOf(a));
    assert.equal(rec.alert.identity.name, a);
    assert.deepEqual(rec.alert.watchlists, ['default']);
    assert.equal(rec.alert.id, alertId({ camera: 'cam-a', trackId: 'a1', identityId: idOf(a), trackStartedAt: e1.track.firstSeenMs }), 'deterministic id');
    assert.ok(rec.alert.scores.distance <= 0.35 && rec.alert.scores.svm >= 0, JSON.stringify(rec.alert.scores));
    assert.equal(rec.alert.faceJpeg, probe(a).jpeg.toString('base64'));
    assert.deepEqual(rec.stages.map((s) => s.stage), [Stage.ingestDecode, Stage.embedPublish, Stage.matchReceive, Stage.matchScore, Stage.matchPublish]);

    // The window is in Redis (SET NX PX, value = the alert id), not only in this process.
    const r = new Redis(redis.url);
    try {
      assert.equal(await r.get(`${prefix}:cooldown:cam-a:${idOf(a)}`), rec.alert.id);
      const ttl = await r.pttl(`${prefix}:cooldown:cam-a:${idOf(a)}`);
      assert.ok(ttl > 3_500_000 && ttl <= 3_600_000, `cooldown ttl ${ttl} ms`);
    } finally {
      r.disconnect();
    }
    assert.equal(await metric('facestream_alerts_total', '{outcome="cooldown"}'), 1);
    assert.equal(await metric('facestream_alerts_total', '{outcome="raised"}'), 3);
    assert.ok((await metric('facestream_matches_total', '{result="unknown"}')) >= strangers.length);
    assert.ok((await metric('facestream_matches_total', '{result="match"}')) >= 4);
    assert.equal(await metric('facestream_gallery_version'), 1);
    assert.ok((await metric('facestream_stage_duration_seconds_count', '{stage="match"}')) >= 9);
    assert.ok((await metric('facestream_hop_seconds_count', '{stage="match.publish"}')) >= 3);
  });

  test('a gallery update in Redis (new identity, no stored model: trained by the service) is picked up without a restart', async () => {
    const [, b, , d] = people;
    await send(embedding(probe(d), 'cam-b', 'b1'), embedding(probe(b), 'cam-b', 'b2'));
    await waitAlert('cam-b', 'b2');
    const t = Date.now();
    // update() drops the stored model when the identities change: the matchers must train this version.
    const stored = await withStore((s) => s.update((cur) => enrol(cur!.gallery, d)));
    assert.equal(stored.version, 2);
    assert.equal(stored.model, undefined);
    await waitUntil('gallery v2 live', async () => (await metric('facestream_gallery_version')) === 2, 60_000);
    const swapMs = Date.now() - t;
    const ready = await readyz(host.httpPort);
    assert.equal(ready.status, 200);
    assert.match(ready.body.checks!.gallery.detail ?? '', /gallery v2, 4 identities/);
    await send(embedding(probe(d), 'cam-b', 'b3'));
    await waitAlert('cam-b', 'b3');
    console.log(`# gallery v2 (no stored model) trained and live ${swapMs} ms after the save`);
    assert.deepEqual(alertsOf('cam-b').map((x) => [x.alert.trackId, x.alert.identity.id]), [['b2', idOf(b)], ['b3', idOf(d)]], 'd alerts only once enrolled');
  });

  test('Redis killed while matching: still matching from memory, readiness degraded; ready again and following after it returns', async () => {
    const [a, , c] = people;
    await redis.kill9();
    const down = Date.now();
    await waitUntil('readiness degraded', async () => (await readyz(host.httpPort)).status === 503, 30_000);
    const r = await readyz(host.httpPort);
    assert.equal(r.body.checks!.gallery.ok, false);
    assert.match(r.body.checks!.gallery.detail ?? '', /degraded: .*matching on gallery v2 held in memory/);
    assert.match(r.body.checks!.cooldown.detail ?? '', /in memory only/);

    await send(embedding(probe(a), 'cam-c', 'c1'));
    await waitAlert('cam-c', 'c1', 30_000);
    const matchedMs = Date.now() - down;
    assert.equal((await readyz(host.httpPort)).status, 503, 'still degraded while Redis is down');

    await redis.restart();
    const up = Date.now();
    await waitUntil('ready again', async () => (await readyz(host.httpPort)).status === 200, 60_000);
    const recoveredMs = Date.now() - up;
    // Catching up: a newer version (thresholds only: the stored model is kept) is followed.
    const stored = await withStore((s) => s.update((cur) => setThresholds(cur!.gallery, { ...cur!.gallery.thresholds, targetFpir: 0.01 })));
    assert.equal(stored.version, 3, 'the gallery survived the kill (append-only file)');
    await waitUntil('gallery v3 live', async () => (await metric('facestream_gallery_version')) === 3, 30_000);
    // a again on cam-c: within the window started while Redis was down (kept in memory); then c as a sentinel.
    await send(embedding(probe(a), 'cam-c', 'c2'), embedding(probe(c), 'cam-c', 'c3'));
    await waitAlert('cam-c', 'c3');
    await new Promise((res) => setTimeout(res, 300));
    assert.deepEqual(alertsOf('cam-c').map((x) => x.alert.trackId), ['c1', 'c3']);
    console.log(`# redis down: alert ${matchedMs} ms after the kill; ready ${recoveredMs} ms after the restart`);
  });

  test('an undecodable record and an embedding of another model go to the dead-letter topic', async () => {
    const garbage = Buffer.from('\u00ff\u00fe not an embedding');
    const other = embedding(probe(people[0]), 'cam-d', 'd1', 'mobilefacenet');
    const otherBytes = encodeFaceEmbedding(other);
    await k.producer.send(host.topics.embeddings, [{ key: 'cam-d', value: garbage }, { key: 'cam-d', value: otherBytes }]);
    await send(embedding(probe(people[1]), 'cam-d', 'd2'));
    await waitAlert('cam-d', 'd2');
    await dlq.waitFor('2 dead letters', (recs) => recs.length >= 2, 30_000);
    const dead = dlq.records.map((x) => decodeDeadLetter(x.value)).sort((x, y) => Number(x.offset) - Number(y.offset));
    assert.equal(dead.length, 2);
    assert.ok(dead.every((d) => d.service === 'match' && d.sourceTopic === host.topics.embeddings));
    assert.deepEqual(Buffer.from(dead[0].original!), garbage);
    assert.match(dead[0].reason, /protobuf|invalid|wire|index out of range/i);
    assert.equal(dead[1].reason, 'embedding from model "mobilefacenet", the gallery holds "faceapi-resnet128" embeddings');
    assert.deepEqual(Buffer.from(dead[1].original!), otherBytes);
  });
});
