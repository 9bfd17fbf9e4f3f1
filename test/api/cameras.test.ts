/**
 * Cameras through the management API against a real server with the embedded runtime inside (real ffmpeg decoding a
 * real RTSP server): create by URL, list, get, update, delete, status (online, fps, last frame, last error),
 * persistence in <store>/cameras.json (0600) across a restart, roles, and URL validation with clear 400s — while
 * credentials stay out of every answer. Distributed: the same API on the Kafka cameras topic (real broker, real
 * Redis), a real ingest service running the camera and publishing its status, which the API reports.
 */
import assert from 'node:assert/strict';
import { readFileSync, statSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { makeTestVideo, SKIP_NO_FFMPEG } from '../support/ffmpeg-testsrc';
import { closedPort } from '../support/net';
import { SKIP_NO_RTSP_SERVER, startRtspServer, type RtspTestServer } from '../support/rtsp-server';
import { pollUntil } from '../e2e/helpers';
import { startIngestService } from '../../src/services/ingest';
import type { ServiceHost } from '../../src/services/host';
import { kafkaUnavailableReason, startKafka, type KafkaBroker } from '../support/kafka';
import { redisUnavailableReason, startRedis, type RedisServer } from '../support/redis';
import { startTestHost, testConfig, uniquePrefix } from '../services/helpers';
import { startTestApi, type TestApi } from './helpers';

const SKIP = SKIP_NO_FFMPEG || SKIP_NO_RTSP_SERVER;
const PASSWORD = 'Pa55-w0rd_cam';
const USER = 'camuser';

describe('cameras API (embedded, real runtime and RTSP server)', { skip: SKIP }, () => {
  let api: TestApi;
  let rtsp: RtspTestServer;
  let dir: string;
  const bodies: string[] = [];
  const call: TestApi['call'] = async (method, route, opts) => {
    const r = await api.call(method, route, opts);
    bodies.push(r.text, JSON.stringify([...r.headers]));
    return r;
  };

  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'facestream-api-cameras-'));
    const video = await makeTestVideo({ seconds: 4, width: 320, height: 240, fps: 10 });
    rtsp = await startRtspServer({ cam: video });
    api = await startTestApi({ streaming: true, dir });
  });
  after(async () => {
    await api?.close();
    await rtsp?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('create, list, get, status online with fps and last frame; URL masked everywhere', async () => {
    const url = rtsp.url('cam', { user: USER, password: PASSWORD });
    const created = await call('POST', '/cameras', { key: api.keys.operator, json: { name: 'lobby', url, fps: 5 } });
    assert.equal(created.status, 201, created.text);
    assert.equal(created.body.name, 'lobby');
    assert.equal(created.body.url, `rtsp://***@127.0.0.1:${rtsp.port}/cam`);
    assert.equal(created.body.hasCredentials, true);
    assert.equal(created.body.fps, 5);
    assert.equal(created.body.enabled, true);

    const list = await call('GET', '/cameras', { key: api.keys.viewer });
    assert.equal(list.status, 200);
    assert.deepEqual(list.body.cameras.map((c: { name: string }) => c.name), ['lobby']);
    const one = await call('GET', '/cameras/lobby', { key: api.keys.viewer });
    assert.equal(one.status, 200);
    assert.deepEqual(one.body, created.body);

    let status: any;
    await pollUntil(async () => {
      status = (await call('GET', '/cameras/lobby/status', { key: api.keys.viewer })).body;
      return status.online === true && status.fps > 0;
    }, 30_000, 'camera lobby online with a measured fps');
    assert.equal(status.camera, 'lobby');
    assert.equal(status.state, 'online');
    assert.ok(status.fps > 1 && status.fps <= 7, `measured fps near the 5 asked for, got ${status.fps}`);
    assert.ok(Date.now() - Date.parse(status.lastFrameAt) < 5000, `last frame is recent: ${status.lastFrameAt}`);
    assert.ok(status.frames > 0);

    const metrics = await call('GET', '/metrics');
    assert.match(metrics.text, /facestream_camera_up\{camera="lobby"\} 1/);
    assert.match(metrics.text, /facestream_frames_total\{camera="lobby"\} [1-9]/);

    // Stored with its credentials (the runtime needs them), private to the owner.
    const file = path.join(dir, 'store', 'cameras.json');
    assert.equal(statSync(file).mode & 0o777, 0o600, 'cameras.json is 0600');
    assert.equal(statSync(path.dirname(file)).mode & 0o077, 0, 'the store directory is private');
    assert.ok(readFileSync(file, 'utf8').includes(PASSWORD), 'the file keeps the URL with its password');
  });

  test('PATCH changes settings and keeps the stored URL; disabled cameras stop and report "disabled"', async () => {
    const patched = await call('PATCH', '/cameras/lobby', { key: api.keys.admin, json: { fps: 2 } });
    assert.equal(patched.status, 200, patched.text);
    assert.equal(patched.body.fps, 2);
    assert.equal(patched.body.url, `rtsp://***@127.0.0.1:${rtsp.port}/cam`, 'URL kept (masked in the answer)');
    assert.ok(readFileSync(path.join(dir, 'store', 'cameras.json'), 'utf8').includes(PASSWORD), 'the stored password was kept');
    await pollUntil(async () => (await call('GET', '/cameras/lobby/status', { key: api.keys.viewer })).body.online === true, 30_000, 'lobby online again after the change');

    const off = await call('PATCH', '/cameras/lobby', { key: api.keys.operator, json: { enabled: false } });
    assert.equal(off.status, 200);
    assert.equal(off.body.enabled, false);
    const st = await call('GET', '/cameras/lobby/status', { key: api.keys.viewer });
    assert.equal(st.body.state, 'disabled');
    assert.equal(st.body.online, false);
    assert.doesNotMatch((await call('GET', '/metrics')).text, /facestream_camera_up\{camera="lobby"\}/, 'a stopped camera leaves no series');

    const on = await call('PATCH', '/cameras/lobby', { key: api.keys.operator, json: { enabled: true } });
    assert.equal(on.status, 200);
    const same = await call('PATCH', '/cameras/lobby', { key: api.keys.operator, json: { enabled: true } });
    assert.equal(same.body.updatedAt, on.body.updatedAt, 'a PATCH that changes nothing writes nothing');
    await pollUntil(async () => (await call('GET', '/cameras/lobby/status', { key: api.keys.viewer })).body.online === true, 30_000, 'lobby online after enabling');
  });

  test('an unreachable camera is offline with the failure in lastError, credentials masked', async () => {
    const port = await closedPort();
    const r = await call('POST', '/cameras', { key: api.keys.operator, json: { name: 'gone', url: `rtsp://${USER}:${PASSWORD}@127.0.0.1:${port}/x` } });
    assert.equal(r.status, 201, r.text);
    let status: any;
    await pollUntil(async () => {
      status = (await call('GET', '/cameras/gone/status', { key: api.keys.viewer })).body;
      return status.lastError !== null;
    }, 30_000, 'camera gone to report its failure');
    assert.equal(status.online, false);
    assert.equal(status.fps, 0);
    assert.equal(status.lastFrameAt, null);
    assert.match(status.lastError, /refused|failed/i);
    assert.ok(!status.lastError.includes(PASSWORD) && !status.lastError.includes(USER), `lastError masked: ${status.lastError}`);
    assert.equal((await call('DELETE', '/cameras/gone', { key: api.keys.operator })).status, 204);
    assert.equal((await call('GET', '/cameras/gone', { key: api.keys.viewer })).status, 404);
    assert.equal((await call('GET', '/cameras/gone/status', { key: api.keys.viewer })).status, 404);
    assert.equal((await call('DELETE', '/cameras/gone', { key: api.keys.operator })).status, 404);
  });

  test('roles: viewer reads only; no key is 401', async () => {
    const url = rtsp.url('cam');
    assert.equal((await call('POST', '/cameras', { key: api.keys.viewer, json: { name: 'v', url } })).status, 403);
    assert.equal((await call('PATCH', '/cameras/lobby', { key: api.keys.viewer, json: { fps: 1 } })).status, 403);
    assert.equal((await call('DELETE', '/cameras/lobby', { key: api.keys.viewer })).status, 403);
    for (const [m, r] of [['GET', '/cameras'], ['GET', '/cameras/lobby'], ['GET', '/cameras/lobby/status'], ['POST', '/cameras'], ['DELETE', '/cameras/lobby']] as const) {
      assert.equal((await call(m, r)).status, 401, `${m} ${r} without a key`);
    }
    assert.equal((await call('GET', '/cameras/lobby', { key: api.keys.viewer })).status, 200);
  });

  test('bad requests get a 400/404/409 naming the field; the server keeps serving', async () => {
    const good = rtsp.url('cam');
    const cases: [string, string, unknown, number, string, RegExp][] = [
      ['POST', '/cameras', { name: 'a', url: 'ftp://h/x' }, 400, 'url', /unsupported scheme "ftp:"/],
      ['POST', '/cameras', { name: 'a', url: '/etc/passwd' }, 400, 'url', /file paths are not accepted/],
      ['POST', '/cameras', { name: 'a', url: 'file:///etc/passwd' }, 400, 'url', /unsupported scheme "file:"/],
      ['POST', '/cameras', { name: 'a', url: 'rtsp://' }, 400, 'url', /no host|not a valid URL/],
      ['POST', '/cameras', { name: 'a', url: `rtsp://${USER}:${PASSWORD}@h:0/x` }, 400, 'url', /port "0" is not 1\.\.65535/],
      ['POST', '/cameras', { name: 'a', url: `rtsp://${USER}:${PASSWORD}@h:70000/x` }, 400, 'url', /port "70000" is not 1\.\.65535/],
      ['POST', '/cameras', { name: 'a', url: 'rtsp:host/x' }, 400, 'url', /must be followed by "\/\/host"/],
      ['POST', '/cameras', { name: 'a', url: 'rtsp://h /x' }, 400, 'url', /spaces or control characters/],
      ['POST', '/cameras', { name: 'a', url: 42 }, 400, 'url', /expected an rtsp/],
      ['POST', '/cameras', { name: 'bad name!', url: good }, 400, 'name', /camera name/],
      ['POST', '/cameras', { url: good }, 400, 'name', /camera name/],
      ['POST', '/cameras', { name: 'a', url: good, fps: 0 }, 400, 'fps', /expected number/],
      ['POST', '/cameras', { name: 'a', url: good, fps: 'fast' }, 400, 'fps', /expected number/],
      ['POST', '/cameras', { name: 'a', url: good, transport: 'sctp' }, 400, 'transport', /"tcp", "udp"/],
      ['POST', '/cameras', { name: 'a', url: good, password: 'x' }, 400, 'password', /unknown field "password"/],
      ['POST', '/cameras', { name: 'lobby', url: good }, 409, 'name', /already exists/],
      ['PATCH', '/cameras/lobby', {}, 400, '', /at least one of/],
      ['PATCH', '/cameras/lobby', { name: 'x' }, 400, 'name', /unknown field "name"/],
      ['PATCH', '/cameras/lobby', { url: 'gopher://h' }, 400, 'url', /unsupported scheme/],
      ['PATCH', '/cameras/nope', { fps: 1 }, 404, 'name', /no camera named "nope"/],
    ];
    for (const [method, route, json, status, field, message] of cases) {
      const r = await call(method, route, { key: api.keys.admin, json });
      const what = `${method} ${route} ${JSON.stringify(json)}`;
      assert.equal(r.status, status, `${what}: ${r.text}`);
      assert.match(r.body.error.message, message, what);
      if (field) assert.equal(r.body.error.field, field, `${what}: field`);
    }
    assert.equal((await call('GET', '/cameras/lobby', { key: api.keys.viewer })).status, 200, 'still serving');
    assert.deepEqual((await call('GET', '/cameras', { key: api.keys.viewer })).body.cameras.map((c: { name: string }) => c.name), ['lobby'], 'no bad camera was added');
  });

  test('on the first start the configuration\'s cameras are taken over (a file path too; its other settings can change)', async () => {
    const video = await makeTestVideo({ seconds: 4, width: 320, height: 240, fps: 10 });
    const seeded = await startTestApi({ streaming: true, config: { cameras: [{ name: 'fromconfig', url: video, fps: 3 }] } });
    try {
      const list = await seeded.call('GET', '/cameras', { key: seeded.keys.viewer });
      assert.deepEqual(list.body.cameras.map((c: { name: string; url: string; fps: number }) => [c.name, c.url, c.fps]), [['fromconfig', video, 3]]);
      assert.ok(readFileSync(path.join(seeded.dir, 'store', 'cameras.json'), 'utf8').includes('fromconfig'), 'written to cameras.json');
      const r = await seeded.call('PATCH', '/cameras/fromconfig', { key: seeded.keys.admin, json: { fps: 2 } });
      assert.equal(r.status, 200, r.text);
      assert.equal(r.body.fps, 2);
      const file = await seeded.call('PATCH', '/cameras/fromconfig', { key: seeded.keys.admin, json: { url: video } });
      assert.equal(file.status, 400, 'a file path cannot be set over the API');
    } finally {
      await seeded.close();
    }
  });

  test('cameras persist across a restart and run again; no answer ever held the password', async () => {
    await api.close();
    api = await startTestApi({ streaming: true, dir });
    const list = await call('GET', '/cameras', { key: api.keys.viewer });
    assert.deepEqual(list.body.cameras.map((c: { name: string; fps: number }) => [c.name, c.fps]), [['lobby', 2]]);
    await pollUntil(async () => (await call('GET', '/cameras/lobby/status', { key: api.keys.viewer })).body.online === true, 30_000, 'lobby online after the restart');
    const leaks = bodies.filter((b) => b.includes(PASSWORD) || b.includes(encodeURIComponent(PASSWORD)));
    assert.deepEqual(leaks, [], 'no response body or header holds the camera password');
  });
});

const SKIP_DISTRIBUTED = SKIP || kafkaUnavailableReason() || redisUnavailableReason() || false;

describe('cameras API (distributed: Kafka cameras topic, ingest status)', { skip: SKIP_DISTRIBUTED }, () => {
  let broker: KafkaBroker;
  let redis: RedisServer;
  let rtsp: RtspTestServer;
  let api: TestApi;
  let ingest: ServiceHost;
  const prefix = uniquePrefix('api-cams');

  before(async () => {
    const video = await makeTestVideo({ seconds: 4, width: 320, height: 240, fps: 10 });
    [broker, redis, rtsp] = await Promise.all([startKafka(), startRedis(), startRtspServer({ cam: video })]);
    const kafka = { brokers: broker.brokers, topicPrefix: `${prefix}.`, groupPrefix: `${prefix}-`, partitions: 3, cameraPartitions: 4, sessionTimeoutMs: 6000 };
    api = await startTestApi({ redisUrl: redis.url, streaming: true, config: { kafka } });
    ingest = await startTestHost('ingest', testConfig(broker.brokers, prefix));
    await startIngestService(ingest);
  });
  after(async () => {
    await ingest?.shutdown('test end');
    await api?.close();
    await rtsp?.stop();
    await redis?.stop();
    await broker?.stop();
  });

  test('POST puts the camera on the topic, an ingest process runs it, status comes from what it publishes', async () => {
    const url = rtsp.url('cam', { user: USER, password: PASSWORD });
    const created = await api.call('POST', '/cameras', { key: api.keys.operator, json: { name: 'dist', url, fps: 5 } });
    assert.equal(created.status, 201, created.text);
    assert.equal(created.body.url, `rtsp://***@127.0.0.1:${rtsp.port}/cam`);
    const list = await api.call('GET', '/cameras', { key: api.keys.viewer });
    assert.deepEqual(list.body.cameras.map((c: { name: string }) => c.name), ['dist'], 'read back at once');
    assert.equal((await api.call('POST', '/cameras', { key: api.keys.operator, json: { name: 'dist', url } })).status, 409);

    let status: any;
    await pollUntil(async () => {
      status = (await api.call('GET', '/cameras/dist/status', { key: api.keys.viewer })).body;
      return status.online === true && status.fps > 0;
    }, 60_000, 'the ingest process to run the camera and publish its status');
    assert.equal(status.state, 'online');
    assert.ok(status.fps > 1 && status.fps <= 7, `fps near 5: ${status.fps}`);
    assert.ok(Date.now() - Date.parse(status.lastFrameAt) < 15_000);

    const patched = await api.call('PATCH', '/cameras/dist', { key: api.keys.operator, json: { enabled: false } });
    assert.equal(patched.status, 200, patched.text);
    assert.equal(patched.body.url, created.body.url, 'URL kept');
    assert.equal((await api.call('GET', '/cameras/dist/status', { key: api.keys.viewer })).body.state, 'disabled');
    await pollUntil(async () => (await ingest.metrics.registry.metrics()).includes('facestream_ingest_cameras_running 0'), 30_000, 'the ingest process to stop the disabled camera');

    assert.equal((await api.call('DELETE', '/cameras/dist', { key: api.keys.operator })).status, 204);
    assert.equal((await api.call('GET', '/cameras/dist', { key: api.keys.viewer })).status, 404);
    assert.deepEqual((await api.call('GET', '/cameras', { key: api.keys.viewer })).body.cameras, []);
    const ready = await api.call('GET', '/readyz');
    assert.equal(ready.body.checks.cameras.ok, true, ready.text);
  });

  test('Kafka unreachable: the API still serves (alerts from Redis); cameras answer 503 and /readyz says why', async () => {
    const dead = await closedPort();
    const down = await startTestApi({ redisUrl: redis.url, streaming: true, config: { kafka: { brokers: [`127.0.0.1:${dead}`], topicPrefix: `${prefix}x.`, groupPrefix: `${prefix}x-` } } });
    try {
      const r = await down.call('GET', '/cameras', { key: down.keys.viewer });
      assert.equal(r.status, 503, r.text);
      assert.match(r.body.error.message, /cameras topic cannot be reached \(Kafka\)/);
      const ready = await down.call('GET', '/readyz');
      assert.equal(ready.status, 503);
      assert.equal(ready.body.checks.cameras.ok, false);
      assert.match(ready.body.checks.cameras.detail, /Kafka not reachable .*retrying every 10 s/);
      assert.equal((await down.call('GET', '/alerts', { key: down.keys.viewer })).status, 200, 'alerts come from Redis');
      assert.equal((await down.call('GET', '/identities', { key: down.keys.viewer })).status, 200, 'the rest of the API serves');
    } finally {
      await down.close();
    }
  });
});
