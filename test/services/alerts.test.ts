/**
 * The alerts service in-process (and, for the crash, as a `facestream alerts` child process) against a real Kafka 3.9 broker, a real
 * Redis (append-only, fsynced) and a real webhook receiver that verifies every signature and counts duplicates:
 * - alerts published to the topic arrive exactly once, signed; offsets are committed after a graceful stop;
 * - the same AlertRecord published again (and replayed to a second deployment reading the topic from the start)
 *   arrives once;
 * - two alerts services in one group, one SIGKILLed mid-stream (and restarted on its spool later) → every alert once;
 * - the receiver answering 500 for a while → delivered afterwards, once;
 * - Redis stopped for a while → nothing sent meanwhile (never unclaimed), /readyz not ready, nothing lost or doubled;
 * - a malformed record → dead-letter topic, the stream goes on;
 * - a non-retryable 4xx → dead-letter topic (reason, the alert record), the next alert delivered.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, promises as fs, readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import pino from 'pino';
import { webhookSpoolDir } from '../../src/alerts/dispatcher';
import type { Config } from '../../src/config/schema';
import { decodeAlertRecord, decodeDeadLetter } from '../../src/schema';
import { runAlertsService, type AlertsService, type AlertsServiceOptions } from '../../src/services/alerts';
import { startServiceHost, type ServiceHost } from '../../src/services/host';
import { kafkaUnavailableReason, readTopic, startKafka, type KafkaBroker } from '../support/kafka';
import { redisUnavailableReason, startRedis, type RedisServer } from '../support/redis';
import { startServiceProcess, type ServiceProcess } from '../support/service-process';
import { startWebhookReceiver, type WebhookReceiver } from '../support/webhook-receiver';
import { assertCommittedAtEnd, connectKafka, type KafkaClients } from '../transport/helpers';
import {
  alertRecord,
  alertsConfig,
  CAMERAS,
  metricsText,
  metricValue,
  outgoing,
  readyz,
  sleep,
  uniquePrefix,
  waitUntil,
  WEBHOOK_SECRET,
  writeConfigFile,
} from './alerts-helpers';

const SKIP = kafkaUnavailableReason() ?? redisUnavailableReason();
if (SKIP) console.log(`# skipping the alerts service tests: ${SKIP}`);

const quiet = pino({ level: process.env.FACESTREAM_LOG_LEVEL ?? 'silent' });

interface Running {
  host: ServiceHost;
  service: AlertsService;
}

describe('alerts service (real Kafka, real Redis, real webhook receiver)', { skip: SKIP, timeout: 600_000 }, () => {
  let broker: KafkaBroker;
  let redis: RedisServer;
  let k: KafkaClients;
  let root: string;
  const hosts = new Set<ServiceHost>();
  const receivers = new Set<WebhookReceiver>();
  const children = new Set<ServiceProcess>();

  before(async () => {
    const t0 = Date.now();
    [broker, redis] = await Promise.all([startKafka(), startRedis({ persist: true })]);
    console.log(`# kafka and redis started in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    k = await connectKafka(broker.brokers, 'alerts-service-test');
    root = mkdtempSync(path.join(os.tmpdir(), 'facestream-alerts-svc-'));
  });

  after(async () => {
    for (const c of children) c.kill9();
    await Promise.all([...children].map((c) => c.exited));
    for (const h of hosts) await h.shutdown('test end').catch(() => undefined);
    for (const r of receivers) await r.close().catch(() => undefined);
    await k?.close();
    await Promise.allSettled([broker?.stop(), redis?.stop()]);
    if (root) await fs.rm(root, { recursive: true, force: true });
  });

  async function receiver(): Promise<WebhookReceiver> {
    const rx = await startWebhookReceiver({ secret: WEBHOOK_SECRET });
    receivers.add(rx);
    return rx;
  }

  function setup(what: string, rx: WebhookReceiver, overrides: Parameters<typeof alertsConfig>[0]['overrides'] = {}) {
    const prefix = uniquePrefix(what);
    const config = (spool = 'spool', extra = overrides): Config =>
      alertsConfig({ brokers: broker.brokers, redisUrl: redis.url, webhookUrl: rx.url, prefix, spoolDir: path.join(root, prefix, spool), overrides: extra });
    return { prefix, config };
  }

  async function start(config: Config, options: AlertsServiceOptions = {}): Promise<Running> {
    const host = await startServiceHost('alerts', config, { signals: false, log: quiet });
    hosts.add(host);
    const service = await runAlertsService(host, { shutdownFlushMs: 3000, ...options });
    // Ready = joined the group (partitions assigned) and Redis connected.
    await waitUntil('the alerts service is ready', async () => (await readyz(host.httpPort)).status === 200, 30_000);
    return { host, service };
  }

  async function stop(r: Running): Promise<void> {
    await r.host.shutdown('test');
    hosts.delete(r.host);
  }

  test('alerts published to the topic arrive exactly once, signed; metrics; offsets committed after a graceful stop', async () => {
    const rx = await receiver();
    const config = setup('once', rx).config();
    const svc = await start(config);
    const N = 40;
    const records = Array.from({ length: N }, (_, i) => alertRecord(i));
    const publishedAt = new Map<string, number>();
    for (const r of records) {
      publishedAt.set(r.alert.id, Date.now());
      await k.producer.send(svc.host.topics.alerts, [outgoing(r)]);
    }
    await rx.waitFor((x) => x.alerts.size >= N, 30_000);
    await sleep(300);
    assert.equal(rx.acceptedIds.length, N);
    assert.deepEqual(rx.duplicates, []);
    assert.deepEqual(rx.rejected, [], 'every request verified (Standard Webhooks signature)');
    for (const r of records) assert.deepEqual(rx.alerts.get(r.alert.id), r.alert, 'the alert as published');
    for (const req of rx.requests) assert.equal(req.headers['webhook-id'], JSON.parse(req.body).id, 'webhook-id is the alert id');
    const firstAt = Math.min(...publishedAt.values());
    const lastAt = Math.max(...rx.requests.map((q) => q.at));
    console.log(`# ${N} alerts published back to back: the last delivered ${lastAt - firstAt} ms after the first was published ` +
      `(${((N * 1000) / (lastAt - firstAt)).toFixed(0)} alerts/s through one webhook, sent one at a time by design)`);

    const m = await metricsText(svc.host.httpPort);
    assert.equal(metricValue(m, 'facestream_webhook_deliveries_total{outcome="delivered"}'), N);
    assert.equal(metricValue(m, 'facestream_spool_pending'), 0);
    assert.equal(metricValue(m, 'facestream_frame_to_alert_seconds_count'), N);
    assert.equal(metricValue(m, 'facestream_hop_seconds_count{stage="alerts.receive"}'), N);
    assert.equal(metricValue(m, 'facestream_hop_seconds_count{stage="alerts.deliver"}'), N);
    assert.equal(metricValue(m, 'facestream_alert_duplicates_skipped_total{where="consume",reason="spooled"}'), 0);

    // Every delivery is recorded in Redis under this instance.
    const raw = new Redis(redis.url);
    try {
      const tag = path.basename(webhookSpoolDir(config.alerts.spoolDir, rx.url));
      const values = await raw.mget(records.map((r) => `${config.redis.prefix}alert:${r.alert.id}:${tag}`));
      assert.deepEqual(new Set(values), new Set([`delivered:${svc.service.instanceId}`]));
    } finally {
      raw.disconnect();
    }
    await stop(svc);
    await assertCommittedAtEnd(k.admin, svc.host.groupId(), svc.host.topics.alerts);
    // The owner id lives in the spool directory: a restart on it is the same instance.
    const again = await start(config);
    assert.equal(again.service.instanceId, svc.service.instanceId);
    await stop(again);
    assert.equal(rx.acceptedIds.length, N, 'nothing re-sent by the restart');
  });

  test('the same AlertRecord published again (and the topic replayed to a second deployment) arrives once', async () => {
    const rx = await receiver();
    const { config: configOf, prefix } = setup('replay', rx);
    const svc = await start(configOf());
    const records = Array.from({ length: 10 }, (_, i) => alertRecord(100 + i));
    // Each published twice in a row: the second copy finds it spooled (or delivered).
    for (const r of records) await k.producer.send(svc.host.topics.alerts, [outgoing(r), outgoing(r)]);
    await rx.waitFor((x) => x.alerts.size >= records.length, 30_000);
    // Published a third time after delivery: Redis says delivered at consume time, nothing is spooled.
    for (const r of records) await k.producer.send(svc.host.topics.alerts, [outgoing(r)]);
    await waitUntil('the third copies consumed', async () => {
      const m = await metricsText(svc.host.httpPort);
      return metricValue(m, `facestream_records_total{topic="${svc.host.topics.alerts}",outcome="handled"}`) >= 3 * records.length;
    });
    const m = await metricsText(svc.host.httpPort);
    const skippedDelivered = metricValue(m, 'facestream_alert_duplicates_skipped_total{where="consume",reason="delivered"}');
    const skippedSpooled = metricValue(m, 'facestream_alert_duplicates_skipped_total{where="consume",reason="spooled"}');
    console.log(`# replay: ${skippedSpooled} copies found already spooled, ${skippedDelivered} found delivered in Redis`);
    assert.ok(skippedDelivered >= records.length, `third copies skipped as delivered (${skippedDelivered})`);
    assert.equal(skippedDelivered + skippedSpooled, 2 * records.length, 'every extra copy counted as a duplicate');

    // A second deployment (another group, another spool) reading the topic from the beginning: nothing re-sent.
    const replayCfg = alertsConfig({
      brokers: broker.brokers,
      redisUrl: redis.url,
      webhookUrl: rx.url,
      prefix,
      spoolDir: path.join(root, prefix, 'spool-2'),
      overrides: { kafka: { groupPrefix: `${prefix}-second-` } },
    });
    const second = await start(replayCfg);
    await waitUntil('the replay consumed', async () => {
      const mm = await metricsText(second.host.httpPort);
      return metricValue(mm, `facestream_records_total{topic="${second.host.topics.alerts}",outcome="handled"}`) >= 3 * records.length;
    });
    await sleep(500);
    assert.equal(second.service.dispatcher.pending, 0, 'nothing spooled by the replaying deployment');
    assert.equal(rx.acceptedIds.length, records.length);
    assert.deepEqual(rx.duplicates, []);
    assert.equal(rx.requests.length, records.length, 'no request beyond the first deliveries');
    await stop(second);
    await stop(svc);
  });

  test('two alerts services in one group, one SIGKILLed mid-stream and restarted later: every alert once', async () => {
    const rx = await receiver();
    const { config, prefix } = setup('crash', rx);
    const childCfg = config('spool-a');
    const cfgFile = writeConfigFile(childCfg, path.join(root, prefix, 'child-config.json'));

    // `facestream alerts --config FILE` (the secret from FACESTREAM_WEBHOOK_SECRET); its owner id from its log.
    const startChild = async (): Promise<{ proc: ServiceProcess; instance: string }> => {
      const proc = await startServiceProcess('alerts', { FACESTREAM_WEBHOOK_SECRET: WEBHOOK_SECRET }, { args: ['--config', cfgFile], timeoutMs: 60_000 });
      children.add(proc);
      void proc.exited.then(() => children.delete(proc));
      const started = await proc.waitForLog((l) => l.msg === 'alerts service started', 10_000, 'the alerts service started line');
      return { proc, instance: String(started.instance) };
    };

    const a = await startChild();
    const b = await start(config('spool-b'));
    const N = 120;
    const records = Array.from({ length: N }, (_, i) => alertRecord(1000 + i));
    let published = 0;
    const publishing = (async () => {
      for (; published < N; published += 6) {
        await k.producer.send(b.host.topics.alerts, records.slice(published, published + 6).map(outgoing));
        await sleep(40);
      }
    })();
    await rx.waitFor((x) => x.alerts.size >= 30, 60_000);
    // The kill lands while the receiver answers 503 (deliveries retried, spools filling): the one window no sender
    // can close (killed after a 2xx, before recording it; the receiver then de-duplicates by webhook-id) is
    // excluded here on purpose, so that "none twice" is this service's doing. 500 ms lets marks of earlier 2xx land.
    rx.failFor(60_000, 503);
    await sleep(500);
    a.proc.kill9();
    await a.proc.exited;
    rx.heal();
    const killedAt = Date.now();
    const atKill = rx.alerts.size;
    await publishing;
    const spoolA = webhookSpoolDir(childCfg.alerts.spoolDir, rx.url);
    const pendingInA = (): Set<string> =>
      new Set(readdirSync(path.join(spoolA, 'pending')).filter((f) => f.endsWith('.json')).map((f) => f.slice(17, -5)));
    const leftInA = pendingInA();

    // B takes over A's partitions (after A's session times out) and delivers everything A does not hold: A's
    // spool keeps (durably) what it had spooled; whatever it had not committed is consumed again by B.
    const raw = new Redis(redis.url);
    const tag = path.basename(spoolA);
    const stateOf = async (): Promise<(string | null)[]> => raw.mget(records.map((r) => `${config().redis.prefix}alert:${r.alert.id}:${tag}`));
    try {
      await waitUntil('every alert delivered or held in the killed instance\'s spool', async () => {
        const states = await stateOf();
        return states.every((s, i) => s?.startsWith('delivered:') || leftInA.has(records[i].alert.id));
      }, 90_000);
      const states = await stateOf();
      const heldByA = records.filter((r, i) => !states[i]?.startsWith('delivered:')).length;
      const claimedByA = states.filter((s) => s === a.instance).length;
      console.log(`# SIGKILL with ${atKill} of ${N} delivered: ${leftInA.size} left in the killed instance's spool ` +
        `(${claimedByA} of them claimed, ${heldByA} not delivered elsewhere); the survivor delivered the rest within ` +
        `${((Date.now() - killedAt) / 1000).toFixed(1)} s of the kill`);
      assert.ok(states.every((s) => s === null || s === a.instance || s.startsWith('delivered:')));
      assert.ok(leftInA.size > 0, 'the kill left alerts in the killed instance\'s spool (else this test shows nothing)');

      // The killed instance comes back on its spool: it sends what it had claimed, drops what the survivor took.
      const a2 = await startChild();
      assert.equal(a2.instance, a.instance, 'same owner id after the restart (persisted in the spool directory)');
      await rx.waitFor((x) => x.alerts.size >= N, 60_000);
      await waitUntil("the restarted instance's spool drained", () => readdirSync(path.join(spoolA, 'pending')).filter((f) => f.endsWith('.json')).length === 0, 30_000);
      await sleep(500);
      const exit2 = await a2.proc.stop();
      assert.equal(exit2.code, 0, `SIGTERM: graceful shutdown, exit 0\n${a2.proc.tail()}`);
      assert.equal(rx.alerts.size, N, 'every alert delivered');
      assert.deepEqual(rx.duplicates, [], 'none twice');
      assert.deepEqual(rx.rejected, []);
      const final = await stateOf();
      assert.ok(final.every((s) => s?.startsWith('delivered:')), 'every delivery recorded');
    } finally {
      raw.disconnect();
    }
    await stop(b);
  });

  test('the receiver answering 500 for a while: delivered afterwards, each once', async () => {
    const rx = await receiver();
    const { config } = setup('r500', rx);
    const svc = await start(config());
    rx.failFor(2500, 500);
    const records = Array.from({ length: 8 }, (_, i) => alertRecord(2000 + i));
    await k.producer.send(svc.host.topics.alerts, records.map(outgoing));
    await waitUntil('several failed attempts', () => rx.requests.filter((q) => q.status === 500).length >= 3, 20_000);
    assert.equal(rx.alerts.size, 0);
    await rx.waitFor((x) => x.alerts.size >= records.length, 30_000);
    await sleep(300);
    assert.deepEqual(new Set(rx.acceptedIds), new Set(records.map((r) => r.alert.id)));
    assert.deepEqual(rx.duplicates, []);
    const m = await metricsText(svc.host.httpPort);
    const failed = metricValue(m, 'facestream_webhook_deliveries_total{outcome="failed"}');
    assert.equal(failed, rx.requests.filter((q) => q.status === 500).length);
    assert.equal(metricValue(m, 'facestream_webhook_deliveries_total{outcome="delivered"}'), records.length);
    await stop(svc);
  });

  test('graceful stop while the receiver is down: offsets committed, alerts stay spooled; the next start delivers them once', async () => {
    const rx = await receiver();
    const { config } = setup('stop', rx);
    const cfg = config();
    const svc = await start(cfg, { shutdownFlushMs: 1000 });
    rx.failFor(60_000, 503);
    const records = Array.from({ length: 5 }, (_, i) => alertRecord(2500 + i));
    await k.producer.send(svc.host.topics.alerts, records.map(outgoing));
    await waitUntil('all spooled', () => svc.service.dispatcher.pending === records.length, 20_000);
    const t0 = Date.now();
    await stop(svc);
    const took = Date.now() - t0;
    assert.ok(took < 8000, `shutdown took ${took} ms (flush bounded to 1 s)`);
    await assertCommittedAtEnd(k.admin, svc.host.groupId(), svc.host.topics.alerts);
    const pendingDir = path.join(webhookSpoolDir(cfg.alerts.spoolDir, rx.url), 'pending');
    assert.equal(readdirSync(pendingDir).filter((f) => f.endsWith('.json')).length, records.length, 'undelivered alerts stay spooled');
    assert.equal(rx.alerts.size, 0);

    rx.heal();
    const again = await start(cfg);
    await rx.waitFor((x) => x.alerts.size >= records.length, 30_000);
    await sleep(300);
    assert.deepEqual(new Set(rx.acceptedIds), new Set(records.map((r) => r.alert.id)));
    assert.deepEqual(rx.duplicates, []);
    console.log(`# graceful stop with ${records.length} undeliverable alerts took ${took} ms; delivered after the restart`);
    await stop(again);
  });

  test('Redis stopped for a while: nothing sent unclaimed, not ready; after it returns every alert once', async () => {
    const rx = await receiver();
    const { config } = setup('redis', rx);
    const svc = await start(config());
    const first = Array.from({ length: 5 }, (_, i) => alertRecord(3000 + i));
    await k.producer.send(svc.host.topics.alerts, first.map(outgoing));
    await rx.waitFor((x) => x.alerts.size >= first.length, 30_000);

    await redis.kill9();
    const downAt = Date.now();
    try {
      await waitUntil('not ready (redis)', async () => {
        const r = await readyz(svc.host.httpPort);
        return r.status === 503 && r.body.checks?.redis?.ok === false;
      }, 10_000);
      // New alerts, and the earlier ones replayed: the new ones are spooled (Redis cannot be asked), none sent.
      const second = Array.from({ length: 6 }, (_, i) => alertRecord(3100 + i));
      await k.producer.send(svc.host.topics.alerts, [...second, ...first].map(outgoing));
      const topic = svc.host.topics.alerts;
      await waitUntil('all consumed while Redis is down', async () => {
        const m = await metricsText(svc.host.httpPort);
        return metricValue(m, `facestream_records_total{topic="${topic}",outcome="handled"}`) >= 2 * first.length + second.length;
      }, 20_000);
      assert.ok(svc.service.dispatcher.pending >= second.length);
      await sleep(1500);
      assert.equal(rx.requests.length, first.length, 'no request while Redis is down');
      const m = await metricsText(svc.host.httpPort);
      assert.ok(metricValue(m, 'facestream_spool_pending') >= second.length);
      console.log(`# redis down ${((Date.now() - downAt) / 1000).toFixed(1)} s: ${svc.service.dispatcher.pending} alerts held in the spool`);

      await redis.restart();
      await rx.waitFor((x) => x.alerts.size >= first.length + second.length, 30_000);
      await waitUntil('spool drained', () => svc.service.dispatcher.pending === 0, 30_000);
      await sleep(300);
      assert.equal(rx.acceptedIds.length, first.length + second.length);
      assert.deepEqual(rx.duplicates, [], 'the replayed alerts were not sent again');
      assert.equal(rx.requests.length, first.length + second.length);
      await waitUntil('ready again', async () => (await readyz(svc.host.httpPort)).status === 200, 15_000);
    } finally {
      await redis.restart().catch(() => undefined); // if the test failed while it was down
    }
    await stop(svc);
  });

  test('a malformed record on the alerts topic goes to the dead-letter topic; the stream goes on', async () => {
    const rx = await receiver();
    const { config } = setup('malformed', rx);
    const svc = await start(config());
    const [good1, good2] = [alertRecord(4000), alertRecord(4000 + CAMERAS.length)]; // same camera: same partition, in order
    const garbage = Buffer.from('not a protobuf AlertRecord');
    await k.producer.send(svc.host.topics.alerts, [outgoing(good1), { key: good1.alert.camera, value: garbage }, outgoing(good2)]);
    await rx.waitFor((x) => x.alerts.size >= 2, 30_000);
    assert.deepEqual(rx.acceptedIds, [good1.alert.id, good2.alert.id]);
    const [dl] = await readTopic(k.kafka, svc.host.topics.dlq, 1);
    const letter = decodeDeadLetter(dl.value);
    assert.equal(letter.sourceTopic, svc.host.topics.alerts);
    assert.equal(letter.service, 'alerts');
    assert.ok(letter.reason.length > 0);
    assert.deepEqual(Buffer.from(letter.original!), garbage);
    const m = await metricsText(svc.host.httpPort);
    assert.equal(metricValue(m, `facestream_dead_letters_total{topic="${svc.host.topics.alerts}"}`), 1);
    await stop(svc);
  });

  test('a non-retryable 4xx: the alert goes to the dead-letter topic with the reason; the next one is delivered', async () => {
    const rx = await receiver();
    const { config } = setup('dead', rx);
    const cfg = config();
    const svc = await start(cfg);
    rx.failNext(cfg.alerts.maxClientErrorAttempts, { status: 422 });
    const [bad, good] = [alertRecord(5000), alertRecord(5000 + CAMERAS.length)]; // same camera: bad is spooled (and sent) first
    await k.producer.send(svc.host.topics.alerts, [outgoing(bad), outgoing(good)]);
    await rx.waitFor((x) => x.alerts.size >= 1, 30_000);
    const [dl] = await readTopic(k.kafka, svc.host.topics.dlq, 1);
    const letter = decodeDeadLetter(dl.value);
    assert.equal(letter.sourceTopic, svc.host.topics.alerts);
    assert.match(letter.reason, new RegExp(`HTTP 422 after ${cfg.alerts.maxClientErrorAttempts} attempts`));
    assert.ok(!letter.reason.includes(WEBHOOK_SECRET));
    const original = decodeAlertRecord(letter.original);
    assert.equal(original.alert.id, bad.alert.id);
    assert.deepEqual(original.stages, bad.stages);
    assert.equal(dl.key?.toString(), bad.alert.camera);
    assert.deepEqual(rx.acceptedIds, [good.alert.id]);
    assert.equal(rx.requests.filter((q) => q.id === bad.alert.id).length, cfg.alerts.maxClientErrorAttempts);
    assert.deepEqual(svc.service.dispatcher.deliverers[0].spool.deadIds(), [bad.alert.id]);
    const m = await metricsText(svc.host.httpPort);
    assert.equal(metricValue(m, 'facestream_webhook_deliveries_total{outcome="dead"}'), 1);
    // Published again: the dead-lettered id is not re-spooled or re-sent.
    await k.producer.send(svc.host.topics.alerts, [outgoing(bad)]);
    await sleep(1500);
    assert.equal(rx.requests.filter((q) => q.id === bad.alert.id).length, cfg.alerts.maxClientErrorAttempts);
    await stop(svc);
  });
});
