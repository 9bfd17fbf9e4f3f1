/**
 * GET /alerts: recent alerts, filtered by camera, identity and time, newest first, as summaries without the face
 * picture. Embedded: a real API server with the embedded runtime inside, fed through the runtime's 'alert' events
 * (the end-to-end test enrol-then-stream.test.ts covers a real alert raised from video). Distributed: the capped
 * Redis stream the alerts service writes, read and erased against a real Redis.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Alert } from '../../src/alerts/alert';
import { MemoryAlertFeed } from '../../src/api/alerts-feed/feed';
import { recentAlertsKey, RedisAlertFeed, RedisAlertRecorder } from '../../src/api/alerts-feed/redis-feed';
import { logger } from '../../src/util/log';
import { makeAlert } from '../alerts/make-alert';
import { closedPort } from '../support/net';
import { redisUnavailableReason, startRedis, type RedisServer } from '../support/redis';
import { startTestApi, type TestApi } from './helpers';
import { startAlertsService } from '../../src/services/alerts';
import type { ServiceHost } from '../../src/services/host';
import { kafkaUnavailableReason, startKafka, type KafkaBroker } from '../support/kafka';
import { startWebhookReceiver, type WebhookReceiver } from '../support/webhook-receiver';
import { alertRecord, alertsConfig, outgoing, WEBHOOK_SECRET } from '../services/alerts-helpers';
import { startTestHost, uniquePrefix } from '../services/helpers';
import { pollUntil } from '../e2e/helpers';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const silent = logger().child({}, { level: 'silent' });

/** Alerts 0..9: cameras door (even) / yard (odd), identities p0..p2, one second apart from 2024-01-01T12:00:00.9Z. */
function sampleAlerts(): Alert[] {
  return Array.from({ length: 10 }, (_, n) => makeAlert(n, { camera: n % 2 === 0 ? 'door' : 'yard', identityId: `p${n % 3}` }));
}
const at = (n: number) => new Date(Date.UTC(2024, 0, 1, 12, 0, 0) + n * 1000 + 900).toISOString();

describe('GET /alerts (embedded)', () => {
  let api: TestApi;
  before(async () => {
    api = await startTestApi({ streaming: true });
    for (const a of sampleAlerts()) api.ctx.runtime!.emit('alert', a);
  });
  after(() => api?.close());

  const ids = (body: { alerts: { id: string }[] }) => body.alerts.map((a) => a.id);
  const byN = (...ns: number[]) => ns.map((n) => sampleAlerts()[n].id);

  test('newest first, filtered by camera, identity and time, limited', async () => {
    const all = await api.call('GET', '/alerts', { key: api.keys.viewer });
    assert.equal(all.status, 200, all.text);
    assert.deepEqual(ids(all.body), byN(9, 8, 7, 6, 5, 4, 3, 2, 1, 0));
    assert.deepEqual(ids((await api.call('GET', '/alerts?camera=door', { key: api.keys.viewer })).body), byN(8, 6, 4, 2, 0));
    assert.deepEqual(ids((await api.call('GET', '/alerts?identity=p1', { key: api.keys.viewer })).body), byN(7, 4, 1));
    assert.deepEqual(ids((await api.call('GET', '/alerts?identity=p1&camera=yard', { key: api.keys.operator })).body), byN(7, 1));
    assert.deepEqual(ids((await api.call('GET', `/alerts?since=${at(3)}&until=${at(5)}`, { key: api.keys.viewer })).body), byN(5, 4, 3));
    assert.deepEqual(ids((await api.call('GET', `/alerts?since=${at(8)}`, { key: api.keys.viewer })).body), byN(9, 8));
    assert.deepEqual(ids((await api.call('GET', '/alerts?limit=3', { key: api.keys.admin })).body), byN(9, 8, 7));
    assert.deepEqual(ids((await api.call('GET', '/alerts?camera=nowhere', { key: api.keys.viewer })).body), []);
  });

  test('summaries carry who, where, when and scores, never the face picture', async () => {
    const r = await api.call('GET', '/alerts?limit=1', { key: api.keys.viewer });
    const a = sampleAlerts()[9];
    const { faceJpeg: _jpeg, schemaVersion: _v, type: _t, ...expected } = a;
    assert.deepEqual(r.body.alerts[0], expected);
    assert.ok(!r.text.includes('faceJpeg') && !r.text.includes(a.faceJpeg), 'no face JPEG in the answer');
  });

  test('bad queries are 400s naming the parameter; no key is 401', async () => {
    const cases: [string, string, RegExp][] = [
      ['limit=0', 'limit', /expected an integer 1\.\.1000/],
      ['limit=5000', 'limit', /expected an integer 1\.\.1000/],
      ['limit=ten', 'limit', /expected an integer 1\.\.1000/],
      ['since=yesterday', 'since', /ISO 8601/],
      ['until=2024-13-01T00:00:00Z', 'until', /ISO 8601/],
      [`since=${at(5)}&until=${at(3)}`, 'until', /at or after query\.since/],
      ['camera=rtsp://x', 'camera', /camera name/],
      ['colour=red', 'colour', /unknown field "colour"/],
    ];
    for (const [q, field, message] of cases) {
      const r = await api.call('GET', `/alerts?${q}`, { key: api.keys.viewer });
      assert.equal(r.status, 400, `${q}: ${r.text}`);
      assert.equal(r.body.error.field, field, q);
      assert.match(r.body.error.message, message, q);
    }
    assert.equal((await api.call('GET', '/alerts')).status, 401);
    assert.equal((await api.call('GET', '/alerts', { key: api.keys.viewer })).status, 200, 'still serving');
  });

  test('erasure: the feed forgets an identity', async () => {
    const feed = new MemoryAlertFeed(5);
    for (const a of sampleAlerts()) feed.add(a);
    assert.deepEqual((await feed.recent({ limit: 100 })).map((s) => s.id), byN(9, 8, 7, 6, 5), 'capped to the newest 5');
    assert.equal(await feed.forget('p0'), 2);
    assert.deepEqual((await feed.recent({ limit: 100 })).map((s) => s.identity.id), ['p2', 'p1', 'p2']);
  });
});

const NO_REDIS = redisUnavailableReason();

describe('recent alerts in Redis (distributed)', { skip: NO_REDIS ?? false }, () => {
  let redis: RedisServer;
  before(async () => {
    redis = await startRedis();
  });
  after(() => redis?.stop());

  test('the recorder appends summaries; the feed filters, de-duplicates replays and erases', async () => {
    const prefix = `alerts-${process.pid}:`;
    const recorder = new RedisAlertRecorder(redis.url, prefix, silent, 8);
    const feed = new RedisAlertFeed(redis.url, prefix, silent);
    try {
      const alerts = sampleAlerts();
      for (const a of alerts) assert.equal(await recorder.record(a), true);
      assert.equal(await recorder.record(alerts[9]), true, 'a replayed alert is appended again');
      const got = await feed.recent({ limit: 100 });
      assert.deepEqual(got.map((s) => s.id), [9, 8, 7, 6, 5, 4, 3, 2, 1, 0].map((n) => alerts[n].id).slice(0, got.length), 'newest first, each id once');
      assert.ok(got.length >= 7, `the stream is capped near 8 (approximate trimming), kept ${got.length}`);
      assert.deepEqual((await feed.recent({ camera: 'yard', identity: 'p0', limit: 10 })).map((s) => s.id), [alerts[9].id, alerts[3].id]);
      assert.deepEqual((await feed.recent({ since: Date.parse(at(6)), until: Date.parse(at(7)), limit: 10 })).map((s) => s.id), [alerts[7].id, alerts[6].id]);

      // Nothing biometric is stored: no face JPEG in any entry.
      const { Redis } = await import('ioredis');
      const raw = new Redis(redis.url);
      const entries = await raw.xrange(recentAlertsKey(prefix), '-', '+');
      await raw.quit();
      assert.ok(entries.length > 0);
      for (const [, fields] of entries) assert.ok(!fields.join(' ').includes('faceJpeg') && !fields.join(' ').includes(alerts[0].faceJpeg));

      const removed = await feed.forget('p0');
      assert.ok(removed >= 3, `the replayed copy too: removed ${removed}`);
      assert.deepEqual((await feed.recent({ identity: 'p0', limit: 10 })), []);
      assert.ok((await feed.recent({ limit: 10 })).length > 0, 'the others stay');
    } finally {
      await recorder.close();
      await feed.close();
    }
  });

  test('recording never throws when Redis is unreachable (delivery goes on); reading says what failed', async () => {
    const url = `redis://:hunter2secret@127.0.0.1:${await closedPort()}`;
    const recorder = new RedisAlertRecorder(url, 'x:', silent);
    const feed = new RedisAlertFeed(url, 'x:', silent);
    try {
      assert.equal(await recorder.record(makeAlert(1)), false);
      await assert.rejects(feed.recent({ limit: 1 }), (e: Error) => /recent alerts: cannot read them from redis redis:\/\/\*\*\*@127\.0\.0\.1/.test(e.message) && !e.message.includes('hunter2secret'));
    } finally {
      await recorder.close();
      await feed.close();
    }
  });
});

const SKIP_DISTRIBUTED = NO_REDIS ?? kafkaUnavailableReason() ?? false;

describe('GET /alerts (distributed: what the alerts service records)', { skip: SKIP_DISTRIBUTED }, () => {
  let broker: KafkaBroker;
  let redis: RedisServer;
  let rx: WebhookReceiver;
  let host: ServiceHost;
  let api: TestApi;
  const prefix = uniquePrefix('api-alerts');
  const spool = mkdtempSync(path.join(os.tmpdir(), 'facestream-api-alerts-'));

  before(async () => {
    [broker, redis, rx] = await Promise.all([startKafka(), startRedis(), startWebhookReceiver({ secret: WEBHOOK_SECRET })]);
    const config = alertsConfig({ brokers: broker.brokers, redisUrl: redis.url, webhookUrl: rx.url, prefix, spoolDir: spool });
    host = await startTestHost('alerts', config);
    await startAlertsService(host);
    api = await startTestApi({ redisUrl: redis.url, prefix: config.redis.prefix, streaming: true, config: { kafka: { brokers: broker.brokers, topicPrefix: config.kafka.topicPrefix, groupPrefix: config.kafka.groupPrefix, cameraPartitions: 2 } } });
  });
  after(async () => {
    await api?.close();
    await host?.shutdown('test end');
    await rx?.close();
    await redis?.stop();
    await broker?.stop();
    rmSync(spool, { recursive: true, force: true });
  });

  test('alerts consumed by the alerts service are listed by the API, filtered, without face pictures', async () => {
    const records = Array.from({ length: 6 }, (_, i) => alertRecord(i));
    await host.producer.send(host.topics.alerts, records.map(outgoing));
    await host.producer.send(host.topics.alerts, [outgoing(records[2])]); // a replay
    await rx.waitFor((r) => r.alerts.size >= records.length, 30_000);
    let got: any;
    await pollUntil(async () => {
      got = await api.call('GET', '/alerts', { key: api.keys.viewer });
      return got.body.alerts?.length === records.length;
    }, 30_000, 'the API to list the six alerts');
    assert.deepEqual(new Set(got.body.alerts.map((a: { id: string }) => a.id)), new Set(records.map((r) => r.alert.id)), 'each alert once (the replay too)');
    assert.ok(!got.text.includes('faceJpeg'), 'no face picture');
    const cam = records[1].alert.camera;
    const byCamera = await api.call('GET', `/alerts?camera=${cam}`, { key: api.keys.viewer });
    assert.deepEqual(byCamera.body.alerts.map((a: { id: string }) => a.id).sort(), records.filter((r) => r.alert.camera === cam).map((r) => r.alert.id).sort());
    const who = records[3].alert.identity.id;
    const byIdentity = await api.call('GET', `/alerts?identity=${who}&limit=1`, { key: api.keys.viewer });
    assert.deepEqual(byIdentity.body.alerts.map((a: { id: string }) => a.id), [records[3].alert.id]);
  });
});
