/**
 * The ingest service with a real Kafka broker and a real RTSP server (the shared face clips):
 *   - cameras added with `facestream cameras add` are run by exactly one of two ingest services, whose face crops
 *     arrive on the faces topic keyed by camera; `list` masks URLs; `remove` stops the camera;
 *   - a second ingest PROCESS joining while four cameras run takes two of them, and the two that stay are never
 *     restarted; the first process killed (SIGKILL) → its cameras resume on the second within 30 s;
 *   - the crop publisher keeps only the newest crops while the broker is down, counts the drops, and delivers the
 *     rest once the broker is back.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { logLevel } from 'kafkajs';
import type { Counter, Gauge } from 'prom-client';
import { stringify } from 'yaml';
import { cameraFromArgs } from '../../src/cli/cameras-command';
import type { CameraConfig, Config } from '../../src/config/schema';
import { decodeFaceCrop, Stage } from '../../src/schema';
import { openCameraAdmin } from '../../src/services/cameras/admin';
import { CropPublisher } from '../../src/services/crop-publisher';
import type { ServiceHost } from '../../src/services/host';
import { startIngestService } from '../../src/services/ingest';
import { createKafka, createProducer, waitForLeaders } from '../../src/transport';
import { UsageError } from '../../src/util/errors';
import { runCamerasCli } from '../support/cameras-cli';
import { SKIP_NO_FFMPEG } from '../support/ffmpeg-testsrc';
import { kafkaUnavailableReason, readTopic, startKafka, type KafkaBroker } from '../support/kafka';
import { SKIP_NO_RTSP_SERVER, startRtspServer, type RtspTestServer } from '../support/rtsp-server';
import { kafkaEnv, startServiceProcess, type ServiceProcess } from '../support/service-process';
import { sharedDir, skipWithoutShared } from '../support/shared';
import { collectTopic, readyz, startTestHost, testConfig, uniquePrefix, waitUntil } from './helpers';

const SKIP_KAFKA = kafkaUnavailableReason() ?? false;
const SKIP = SKIP_KAFKA || skipWithoutShared('run the ingest tests (needs data/video)') || SKIP_NO_FFMPEG || SKIP_NO_RTSP_SERVER;

const CLIPS: Record<string, string> = {
  cam0: 'head-pose-face-detection-female.mp4',
  cam1: 'head-pose-face-detection-male.mp4',
  cam2: 'head-pose-face-detection-female-and-male.mp4',
  cam3: 'face-demographics-walking-and-pause.mp4',
};

let broker: KafkaBroker | undefined;
let rtsp: RtspTestServer | undefined;
const tmp = mkdtempSync(path.join(os.tmpdir(), 'facestream-ingest-test-'));

before(async () => {
  if (SKIP_KAFKA) return;
  const t0 = Date.now();
  const video = path.join(sharedDir() ?? '', 'data', 'video');
  const mounts = Object.fromEntries(Object.entries(CLIPS).map(([m, f]) => [m, path.join(video, f)]));
  [broker, rtsp] = await Promise.all([startKafka(), SKIP ? undefined : startRtspServer(mounts)]);
  console.log(`# broker${rtsp ? ' and RTSP server' : ''} up in ${Date.now() - t0} ms`);
});

after(async () => {
  await rtsp?.stop();
  await broker?.stop();
  rmSync(tmp, { recursive: true, force: true });
});

/** A counter's or gauge's value for the given labels (0 when absent). */
async function metric(host: ServiceHost, name: string, labels: Record<string, string> = {}): Promise<number> {
  const m = host.metrics.registry.getSingleMetric(name) as Counter | Gauge | undefined;
  if (!m) return 0;
  const { values } = await m.get();
  return values.filter((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x)).reduce((s, v) => s + v.value, 0);
}

/**
 * Runs `fn` with `n` ingest services in this process on `config` (started one after the other), and shuts them
 * down when it ends, pass or fail.
 */
async function withIngestServices(config: Config, fn: (hosts: ServiceHost[]) => Promise<void>, n = 2): Promise<void> {
  const hosts: ServiceHost[] = [];
  try {
    for (let i = 0; i < n; i++) {
      const host = await startTestHost('ingest', config);
      hosts.push(host);
      await startIngestService(host);
    }
    await fn(hosts);
  } finally {
    await Promise.all(hosts.map((h) => h.shutdown('test end')));
  }
}

async function running(host: ServiceHost, camera: string): Promise<boolean> {
  const starts = await metric(host, 'facestream_ingest_camera_starts_total', { camera });
  const stops = await metric(host, 'facestream_ingest_camera_stops_total', { camera });
  return starts > stops;
}

test('cameras add NAME=URL: flags are checked by the camera schema; errors name the field and never show credentials', () => {
  const ok = cameraFromArgs('lobby=rtsp://u:pw@10.0.0.5/s', { fps: 2.5, transport: 'udp', disabled: true });
  assert.deepEqual(ok, { name: 'lobby', url: 'rtsp://u:pw@10.0.0.5/s', fps: 2.5, transport: 'udp', enabled: false, maxWidth: 1280, hwaccel: 'none' });
  const bad = (spec: string, flags: Parameters<typeof cameraFromArgs>[1], re: RegExp) =>
    assert.throws(
      () => cameraFromArgs(spec, flags),
      (err: unknown) => {
        assert.ok(err instanceof UsageError, String(err));
        assert.match(err.message, re);
        assert.doesNotMatch(err.message, /hunter2/);
        return true;
      },
    );
  bad('lobby=ftp://u:hunter2@host/x', {}, /camera url \(URL\): expected rtsp:\/\/.*got "ftp:\/\/\*\*\*@host\/x"/);
  bad('lobby=rtsp://u:hunter2@host/x', { fps: 0 }, /camera fps \(--fps\): expected number > 0/);
  bad('lobby=rtsp://u:hunter2@host/x', { transport: 'sctp' }, /camera transport \(--transport\): expected one of "tcp", "udp"/);
  bad('bad name=rtsp://u:hunter2@host/x', {}, /camera name \(NAME\)/);
  bad('rtsp://u:hunter2@host/x', {}, /expected NAME=URL/);
});

test('cameras added with the CLI run on exactly one of two ingest services; crops arrive keyed by camera; remove stops them', { skip: SKIP, timeout: 240_000 }, async () => {
  const prefix = uniquePrefix('ingest-cli');
  const config = testConfig(broker!.brokers, prefix, { kafka: { cameraPartitions: 8, sessionTimeoutMs: 10_000 } });
  // The CLI gets its settings from a config file, and the brokers from --brokers.
  const file = path.join(tmp, `${prefix}.yaml`);
  writeFileSync(file, stringify({ kafka: { topicPrefix: config.kafka.topicPrefix, groupPrefix: config.kafka.groupPrefix, cameraPartitions: 8 } }));
  const cli = (...args: string[]) => runCamerasCli([...args, '--config', file, '--brokers', broker!.brokers.join(',')]);

  await withIngestServices(config, async ([a, b]) => {
    for (const h of [a, b]) {
      const r = await readyz(h.httpPort);
      assert.equal(r.body.checks?.cameras?.ok, true, JSON.stringify(r.body));
      assert.equal(r.body.checks?.cameras?.detail, '0 cameras running');
    }
    const faces = await collectTopic(a.kafka, a.topics.faces);
    try {
      const t0 = Date.now();
      const added = await cli('add', `cam0=${rtsp!.url('cam0', { user: 'viewer', password: 'hunter2' })}`, '--fps', '4');
      assert.equal(added.code, 0, added.stderr);
      assert.match(added.stdout, /^added camera cam0 \(partition \d\): rtsp:\/\/\*\*\*@127\.0\.0\.1:\d+\/cam0\n$/);
      assert.doesNotMatch(added.stdout + added.stderr, /hunter2/);
      await waitUntil('cam0 to run on one service', async () => (await running(a, 'cam0')) !== (await running(b, 'cam0')), 30_000);
      console.log(`# cam0 running ${Date.now() - t0} ms after "cameras add"`);

      const add1 = await cli('add', `cam1=${rtsp!.url('cam1')}`, '--fps', '4');
      assert.equal(add1.code, 0, add1.stderr);
      await waitUntil('cam1 to run on one service', async () => (await running(a, 'cam1')) !== (await running(b, 'cam1')), 30_000);
      // Placement prefers the less loaded service: one camera each.
      assert.notEqual(await running(a, 'cam0'), await running(a, 'cam1'), 'cam0 and cam1 run on different services');

      await faces.waitFor('crops of cam0 and cam1', (rs) => ['cam0', 'cam1'].every((c) => rs.some((r) => r.key === c)), 90_000);
      for (const r of faces.records) {
        const crop = decodeFaceCrop(r.value);
        assert.equal(crop.camera, r.key, 'keyed by camera');
        assert.deepEqual(crop.stages.map((s) => s.stage), [Stage.ingestDecode, Stage.ingestDetect, Stage.ingestAlign, Stage.ingestPublish]);
        for (let i = 1; i < crop.stages.length; i++) assert.ok(crop.stages[i].tsMs >= crop.stages[i - 1].tsMs, 'stamps in time order');
        assert.ok(crop.track.id.startsWith(`${crop.camera}-`), crop.track.id);
        assert.ok(crop.faceJpeg && crop.faceJpeg.length > 100, 'face picture');
        assert.equal(crop.crop.data.length, crop.crop.width * crop.crop.height * 3);
      }
      const running0 = (await running(a, 'cam0')) ? a : b;
      const r = await readyz(running0.httpPort);
      assert.equal(r.body.checks?.cameras?.detail, '1 cameras running');
      assert.ok((await metric(running0, 'facestream_frames_total', { camera: 'cam0' })) > 0);
      assert.ok((await metric(running0, 'facestream_records_published_total')) > 0);

      const list = await cli('list', '--json');
      assert.equal(list.code, 0, list.stderr);
      const rows = JSON.parse(list.stdout) as { name: string; url: string; partition: number; fps: number; enabled: boolean }[];
      assert.deepEqual(rows.map((x) => x.name), ['cam0', 'cam1']);
      assert.match(rows[0].url, /^rtsp:\/\/\*\*\*@127\.0\.0\.1:\d+\/cam0$/);
      assert.equal(rows[0].fps, 4);
      const table = await cli('list');
      assert.match(table.stdout, /^NAME\s+ENABLED\s+FPS\s+TRANSPORT\s+PARTITION\s+URL\ncam0\s+yes\s+4\s+tcp/);
      assert.doesNotMatch(list.stdout + table.stdout, /hunter2|viewer/);

      const removed = await cli('remove', 'cam0');
      assert.equal(removed.code, 0, removed.stderr);
      assert.match(removed.stdout, /^removed camera cam0 \(partition \d\)\n$/);
      await waitUntil('cam0 to stop', async () => !(await running(a, 'cam0')) && !(await running(b, 'cam0')), 30_000);
      assert.equal(await metric(running0, 'facestream_ingest_camera_stops_total', { camera: 'cam0', reason: 'removed' }), 1);
      assert.ok((await running(a, 'cam1')) !== (await running(b, 'cam1')), 'cam1 untouched');
      const missing = await cli('remove', 'cam0');
      assert.equal(missing.code, 1);
      assert.match(missing.stderr, /no camera named "cam0"/);
    } finally {
      await faces.stop();
    }
  });
});

test('catalog changes that leave the cameras uneven make the group leader rebalance; one camera moves, the others stay', { skip: SKIP, timeout: 240_000 }, async () => {
  const prefix = uniquePrefix('ingest-nudge');
  const config = testConfig(broker!.brokers, prefix, { kafka: { cameraPartitions: 8, sessionTimeoutMs: 10_000 } });
  const admin = await openCameraAdmin(config);
  try {
    await withIngestServices(config, async (hosts) => {
      const names = ['n0', 'n1', 'n2', 'n3'];
      const mounts = Object.keys(CLIPS);
      const cams = names.map((n, i) => cameraFromArgs(`${n}=${rtsp!.url(mounts[i])}`, { fps: 2 }));
      // Added one after another, each lands on the less loaded service: 2/2.
      for (const c of cams) {
        await admin.put(c);
        await waitUntil(`${c.name} to run`, async () => (await running(hosts[0], c.name)) || (await running(hosts[1], c.name)), 30_000);
      }
      const on = async (h: ServiceHost) => (await Promise.all(names.map(async (n) => ((await running(h, n)) ? n : undefined)))).filter((n): n is string => !!n);
      const [a0, b0] = [await on(hosts[0]), await on(hosts[1])];
      assert.deepEqual([a0.length, b0.length], [2, 2], `a: ${a0}, b: ${b0}`);

      // Disable both cameras of the first service: 0/2 until the leader rebalances to 1/1.
      const t0 = Date.now();
      for (const n of a0) await admin.put({ ...cams[names.indexOf(n)], enabled: false });
      await waitUntil('one camera each again', async () => (await on(hosts[0])).length === 1 && (await on(hosts[1])).length === 1, 60_000);
      console.log(`# rebalanced 1/1 ${Date.now() - t0} ms after the catalog change`);
      const moved = await on(hosts[0]);
      const stayed = (await on(hosts[1]))[0];
      assert.ok(b0.includes(moved[0]) && b0.includes(stayed));
      assert.equal(await metric(hosts[1], 'facestream_ingest_camera_stops_total', { camera: moved[0], reason: 'unassigned' }), 1);
      assert.equal(await metric(hosts[1], 'facestream_ingest_camera_starts_total', { camera: stayed }), 1, 'the other camera was never restarted');
      assert.equal(await metric(hosts[1], 'facestream_ingest_camera_stops_total', { camera: stayed }), 0);
      for (const n of a0) assert.equal(await metric(hosts[0], 'facestream_ingest_camera_stops_total', { camera: n, reason: 'disabled' }), 1);
    });
  } finally {
    await admin.close();
  }
});

test('a second ingest process while four cameras run: 2/2, the cameras that stay never restart; the first killed: its cameras resume within 30 s', { skip: SKIP, timeout: 300_000 }, async () => {
  const prefix = uniquePrefix('ingest-proc');
  const config = testConfig(broker!.brokers, prefix, { kafka: { cameraPartitions: 16, sessionTimeoutMs: 10_000 } });
  const env = {
    ...kafkaEnv({ brokers: broker!.brokers, topicPrefix: config.kafka.topicPrefix, groupPrefix: config.kafka.groupPrefix, cameraPartitions: 16, sessionTimeoutMs: 10_000 }),
  };
  const admin = await openCameraAdmin(config);
  const procs: ServiceProcess[] = [];
  const kafka = createKafka({ brokers: broker!.brokers, clientId: 'ingest-test' });
  try {
    const cameras: CameraConfig[] = Object.keys(CLIPS).map((name) => cameraFromArgs(`${name}=${rtsp!.url(name)}`, { fps: 3 }));
    for (const c of cameras) await admin.put(c);
    const names = cameras.map((c) => c.name);
    const started = (p: ServiceProcess, camera?: string) => p.logsWith('ingest: camera started', camera);
    const stopped = (p: ServiceProcess, camera?: string) => p.logsWith('ingest: camera stopped', camera);

    const first = await startServiceProcess('ingest', env);
    procs.push(first);
    await first.waitUntil(() => (started(first).length === 4 ? true : undefined), 60_000, 'four cameras on the first process');

    const t1 = Date.now();
    const second = await startServiceProcess('ingest', env);
    procs.push(second);
    await second.waitUntil(() => (started(second).length >= 2 ? true : undefined), 60_000, 'two cameras on the second process');
    await first.waitUntil(() => (stopped(first).length >= 2 ? true : undefined), 30_000, 'two cameras stopped on the first process');
    console.log(`# rebalanced 2/2 in ${Date.now() - t1} ms after the second process started`);
    // Let any further rebalance happen before judging.
    await new Promise((r) => setTimeout(r, 8000));
    const moved = started(second).map((l) => l.camera!);
    const stayed = names.filter((n) => !moved.includes(n));
    assert.equal(moved.length, 2, `moved: ${moved}`);
    assert.equal(stayed.length, 2, `stayed: ${stayed}`);
    for (const c of moved) {
      assert.equal(stopped(first, c).length, 1, `${c} stopped once on the first process`);
      assert.equal(stopped(first, c)[0].reason, 'unassigned');
    }
    for (const c of stayed) {
      assert.equal(started(first, c).length, 1, `${c} started once on the first process`);
      assert.equal(stopped(first, c).length, 0, `${c} never stopped on the first process`);
    }
    assert.equal(started(first).length, 4, 'the first process started nothing again');

    // Crops keep coming from all four cameras after the rebalance.
    const faces = await collectTopic(kafka, config.kafka.topicPrefix + 'faces');
    try {
      const since = Date.now();
      await faces.waitFor('crops of every camera after the rebalance', (rs) =>
        names.every((n) => rs.some((r) => r.key === n && decodeFaceCrop(r.value).stages[0].tsMs > since)), 90_000);
    } finally {
      await faces.stop();
    }

    const tKill = Date.now();
    first.kill9();
    await first.exited;
    await second.waitUntil(() => (started(second).length >= 4 ? true : undefined), 40_000, "the first process's cameras on the second");
    const resumedMs = Date.now() - tKill;
    console.log(`# cameras of the killed process resumed on the other in ${resumedMs} ms`);
    assert.ok(resumedMs < 30_000, `resumed after ${resumedMs} ms`);
    assert.deepEqual(started(second).map((l) => l.camera).sort(), [...names].sort());
    assert.equal(stopped(second).length, 0, 'the second process restarted none of its own cameras');

    await second.stop();
    assert.equal(second.exit?.code, 0, second.tail());
  } finally {
    for (const p of procs) if (p.running) p.kill9();
    await Promise.all(procs.map((p) => p.exited));
    await admin.close();
  }
});

test('while the broker is down the crop publisher keeps only the newest crops and counts the drops; the rest arrive after', { skip: SKIP_KAFKA, timeout: 240_000 }, async () => {
  const topic = `${uniquePrefix('publisher')}.faces`;
  const kafka = createKafka({ brokers: broker!.brokers, clientId: 'publisher-test', logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: false });
  await waitForLeaders(admin, [topic]);
  await admin.disconnect();
  const producer = createProducer(kafka);
  await producer.connect();
  const drops: number[] = [];
  const published: number[] = [];
  const publisher = new CropPublisher<number>({
    maxBuffered: 10,
    maxBatch: 4,
    send: (records) => producer.send(topic, records),
    prepare: (n) => ({ key: 'cam', value: Buffer.from(String(n)) }),
    camera: () => 'cam',
    onPublished: (items) => published.push(...items),
    onDropped: (_c, reason, count) => {
      assert.equal(reason, 'buffer_full');
      drops.push(count);
    },
  });
  try {
    publisher.offer(0);
    assert.equal(await publisher.flush(20_000), true);
    await broker!.kill9();
    const t0 = Date.now();
    for (let n = 1; n <= 50; n++) publisher.offer(n);
    assert.ok(Date.now() - t0 < 100, 'offer never waits for Kafka');
    // 1 in flight, the newest 10 buffered, 39 dropped.
    assert.equal(publisher.buffered, 10);
    assert.equal(drops.reduce((s, n) => s + n, 0), 39);
    await broker!.restart();
    assert.equal(await publisher.flush(120_000), true, 'everything kept was delivered after the restart');
    const expected = [0, 1, ...Array.from({ length: 10 }, (_, i) => 41 + i)];
    assert.deepEqual(published, expected);
    const onTopic = (await readTopic(kafka, topic, expected.length)).map((r) => Number(r.value!.toString()));
    assert.deepEqual(onTopic, expected, 'in order, each once');
  } finally {
    await publisher.close(1000);
    await producer.disconnect();
  }
});
