/**
 * End to end, distributed mode: Kafka + Redis + the GStreamer RTSP server + the four services as separate processes
 * + a webhook receiver that verifies every signature. The gallery is enrolled into Redis with the real CLI, cameras
 * are added at run time with `facestream cameras add`. The clips replay each time the camera reconnects, so a
 * person is seen again and again; with a long cooldown the expected alerts are exactly one per (identity, camera).
 *
 * Faults: an embed process SIGKILLed mid-stream, the broker SIGKILLed and restarted, Redis SIGKILLed and restarted
 * while matching, a malformed record in every topic. Each asserts that every expected alert arrives and none twice.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { SKIP_NO_FFMPEG } from '../support/ffmpeg-testsrc';
import { kafkaUnavailableReason, readTopic } from '../support/kafka';
import { redisUnavailableReason } from '../support/redis';
import { SKIP_NO_RTSP_SERVER } from '../support/rtsp-server';
import { skipWithoutShared } from '../support/shared';
import { createKafka } from '../../src/transport';
import { decodeDeadLetter } from '../../src/schema';
import { EXPECTED_ALERTS, startStack, stopSharedKafka, type DistributedStack } from './distributed-helpers';
import { sleep, WEBHOOK_SECRET } from './helpers';

const SKIP =
  skipWithoutShared('run the distributed end-to-end tests (needs data/video)') ||
  SKIP_NO_FFMPEG ||
  SKIP_NO_RTSP_SERVER ||
  kafkaUnavailableReason() ||
  redisUnavailableReason() ||
  false;

/** Every accepted alert exactly once, nothing refused, and exactly the expected (camera, identity) pairs. */
function assertExactlyOnce(stack: DistributedStack, expected: readonly string[] = EXPECTED_ALERTS): void {
  const r = stack.receiver;
  assert.deepEqual(r.rejected.map((x) => `${x.status} ${x.reason}`), [], 'no request refused by the receiver (every signature valid)');
  assert.deepEqual(r.duplicates, [], `no alert id delivered twice\n${stack.tails()}`);
  assert.deepEqual(stack.alertKeys(), [...expected].sort(), `exactly the expected alerts, once each\n${stack.tails()}`);
  for (const p of stack.processes) {
    assert.ok(!p.stderr.includes(WEBHOOK_SECRET.slice(6)), `the webhook secret never appears in the ${p.args[0]} log`);
  }
}

/** After the expected alerts arrived, a quiet period in which no further alert may arrive. */
async function settle(stack: DistributedStack, ms = 8000): Promise<void> {
  const n = stack.receiver.requests.length;
  await sleep(ms);
  if (stack.receiver.alerts.size > EXPECTED_ALERTS.length) assert.fail(`unexpected alerts after settling: ${stack.alertKeys().join(', ')} (${stack.receiver.requests.length - n} requests)`);
}

async function startCameras(stack: DistributedStack): Promise<void> {
  await stack.addCamera('walk');
  await stack.addCamera('pair');
}

describe('distributed mode end to end', { skip: SKIP, concurrency: 1 }, () => {
  after(() => stopSharedKafka());

  test('four services as processes: the expected alerts arrive exactly once', { timeout: 400_000 }, async (t) => {
    const stack = await startStack(t);
    await stack.enrol();
    const procs = await stack.startAll();
    await startCameras(stack);
    await stack.waitForAlerts(EXPECTED_ALERTS, 180_000);
    await settle(stack);
    assertExactlyOnce(stack);

    // Operations: every service answers /healthz and /readyz and exports its metrics.
    for (const [role, ps] of Object.entries(procs)) {
      const url = (await import('./distributed-helpers')).serviceMetricsUrl(ps[0], role as never)!;
      const base = url.replace(/\/metrics$/, '');
      assert.equal((await fetch(`${base}/healthz`)).status, 200, `${role} /healthz`);
      assert.equal((await fetch(`${base}/readyz`)).status, 200, `${role} /readyz ${await (await fetch(`${base}/readyz`)).text()}`);
    }
    assert.ok(((await stack.metric(procs.embed[0], 'embed', 'facestream_embeddings_total')) ?? 0) > 0, 'embed counted embeddings');
    assert.ok(((await stack.metric(procs.match[0], 'match', 'facestream_gallery_version')) ?? 0) >= 1, 'match exports the gallery version');
    const delivered = await stack.metric(procs.alerts[0], 'alerts', 'facestream_webhook_deliveries_total{outcome="delivered"}');
    assert.equal(delivered, EXPECTED_ALERTS.length, 'alerts counted its deliveries');

    // Graceful stop: SIGTERM ends each service with exit 0.
    for (const p of stack.processes) p.signal('SIGTERM');
    for (const p of stack.processes) assert.deepEqual(await p.waitForExit(60_000, `${p.args[0]} to stop on SIGTERM`), { code: 0, signal: null }, p.tail());
  });

  test('an embed process killed with SIGKILL mid-stream: the other takes over, nothing lost or doubled', { timeout: 400_000 }, async (t) => {
    const stack = await startStack(t);
    await stack.enrol();
    const procs = await stack.startAll({ embed: 2 });
    await startCameras(stack);
    // Kill the embed process that is doing the work as soon as it has embedded something.
    let victim: (typeof procs.embed)[number] | undefined;
    const t0 = Date.now();
    while (!victim && Date.now() - t0 < 120_000) {
      for (const p of procs.embed) if (((await stack.metric(p, 'embed', 'facestream_embeddings_total')) ?? 0) > 0) victim = p;
      if (!victim) await sleep(200);
    }
    assert.ok(victim, `an embed process embedded crops\n${stack.tails()}`);
    victim.killAll();
    t.diagnostic(`killed embed pid ${victim.child.pid} after ${Date.now() - t0} ms; alerts so far: ${stack.alertKeys().join(', ') || 'none'}`);
    await stack.waitForAlerts(EXPECTED_ALERTS, 180_000);
    await settle(stack);
    assertExactlyOnce(stack);
  });

  test('the Kafka broker killed with SIGKILL and restarted: nothing lost or doubled', { timeout: 500_000 }, async (t) => {
    const stack = await startStack(t, { ownKafka: true });
    await stack.enrol();
    await stack.startAll();
    await startCameras(stack);
    await stack.receiver.waitFor((r) => r.requests.length >= 1, 180_000);
    await stack.kafka.kill9();
    t.diagnostic(`broker killed with ${stack.alertKeys().length} alert(s) delivered`);
    await sleep(5000);
    await stack.kafka.restart();
    await stack.waitForAlerts(EXPECTED_ALERTS, 240_000);
    await settle(stack);
    assertExactlyOnce(stack);
    for (const p of stack.processes) assert.ok(p.running, `${p.args[0]} survived the broker outage\n${p.tail()}`);
  });

  test('Redis killed and restarted while matching: nothing lost or doubled', { timeout: 400_000 }, async (t) => {
    const stack = await startStack(t, { persistRedis: true });
    await stack.enrol();
    const procs = await stack.startAll();
    await stack.addCamera('walk');
    await stack.waitForAlerts(['walk:woman'], 180_000);
    await stack.redis.kill9();
    // Matching continues on the in-memory gallery; readiness reports the degradation.
    await stack.addCamera('pair');
    const matchReady = async () => (await fetch(`${(await import('./distributed-helpers')).serviceMetricsUrl(procs.match[0], 'match')!.replace(/\/metrics$/, '')}/readyz`)).status;
    const t0 = Date.now();
    let degraded = false;
    while (!degraded && Date.now() - t0 < 30_000) {
      degraded = (await matchReady()) === 503;
      if (!degraded) await sleep(250);
    }
    assert.ok(degraded, 'match reports not ready (degraded) while Redis is down');
    await sleep(8000);
    await stack.redis.restart();
    await stack.waitForAlerts(EXPECTED_ALERTS, 180_000);
    await settle(stack);
    assertExactlyOnce(stack);
    assert.equal(await matchReady(), 200, 'match ready again after Redis returned');
  });

  test('a malformed record in every topic goes to the dead-letter topic; the stream goes on', { timeout: 400_000 }, async (t) => {
    const stack = await startStack(t);
    await stack.enrol();
    await stack.startAll();
    const kafka = createKafka({ brokers: stack.kafka.brokers, clientId: 'e2e-poison' });
    const producer = kafka.producer();
    await producer.connect();
    t.after(() => producer.disconnect());
    const topics = ['faces', 'embeddings', 'alerts', 'cameras'].map((r) => `${stack.prefix}.${r}`);
    for (const topic of topics) await producer.send({ topic, messages: [{ key: 'walk', value: Buffer.from(`not a record of ${topic}`) }] });
    await startCameras(stack);
    const dead = await readTopic(kafka, `${stack.prefix}.dlq`, topics.length, 120_000);
    const letters = dead.map((r) => decodeDeadLetter(r.value!));
    assert.deepEqual(letters.map((d) => d.sourceTopic).sort(), [...topics].sort(), 'one dead letter per poisoned topic');
    for (const d of letters) {
      assert.ok(d.reason.length > 0, `dead letter from ${d.sourceTopic} says why`);
      assert.equal(Buffer.from(d.original!).toString(), `not a record of ${d.sourceTopic}`, 'the original bytes are kept');
    }
    await stack.waitForAlerts(EXPECTED_ALERTS, 180_000);
    await settle(stack);
    assertExactlyOnce(stack);
  });
});
