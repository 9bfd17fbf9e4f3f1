/**
 * End to end, embedded mode: an RTSP camera that goes away for 10 s and comes back. The same facestream process
 * (never restarted) must notice the outage (log + facestream_camera_up 0), reconnect on its own when the server is
 * back (log + facestream_camera_up 1) and alert again from the new stream; SIGTERM then stops it cleanly.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { SKIP_NO_FFMPEG } from '../support/ffmpeg-testsrc';
import { SKIP_NO_RTSP_SERVER, startRtspServer } from '../support/rtsp-server';
import { skipWithoutShared } from '../support/shared';
import { startWebhookReceiver } from '../support/webhook-receiver';
import { enrolWomanAndMan, fetchText, loopClip, metricValue, pollUntil, sharedVideo, sleep, startCli, tempDir, WEBHOOK_SECRET } from './helpers';

const SKIP = skipWithoutShared('run the embedded reconnect end-to-end test (needs data/video)') || SKIP_NO_FFMPEG || SKIP_NO_RTSP_SERVER;

test('embedded: a camera whose RTSP server is down for 10 s comes back and alerts again, same process', { skip: SKIP, timeout: 200_000 }, async (t) => {
  const dir = tempDir(t, 'reconnect');
  const store = await enrolWomanAndMan(t, dir);
  // The pair clip is 4.7 s; 8 plays (37 s) so the stream cannot end on its own while the test runs up to the outage
  // (an end of stream would also show as offline/online and make the test pass for the wrong reason).
  const clip = await loopClip(sharedVideo('head-pose-face-detection-female-and-male.mp4'), 8, path.join(dir, 'pair-x8.mp4'));
  const config = path.join(dir, 'facestream.yaml');
  // A 1 s cooldown: the same people may alert again once the camera is back (a new track gives a new alert id).
  writeFileSync(config, 'alerts:\n  cooldownSec: 1\n');

  const receiver = await startWebhookReceiver({ secret: WEBHOOK_SECRET });
  t.after(() => receiver.close());
  const server = await startRtspServer({ door: clip });
  t.after(() => server.stop());

  const fs = startCli(t, [
    'run',
    '--config', config,
    '--camera', `door=${server.url('door')}`,
    '--fps', '10',
    '--webhook', receiver.url,
    '--http-port', '0',
    '--store', store,
    '--spool', path.join(dir, 'spool'),
  ]);
  const metricsUrl = await fs.waitUntil(() => fs.metricsUrl, 90_000, 'the "metrics at" line');
  const cameraUp = async (): Promise<number | undefined> => {
    const r = await fetchText(metricsUrl);
    return r ? metricValue(r.body, 'facestream_camera_up{camera="door"}') : undefined;
  };

  await fs.waitForLog((l) => l.msg === 'camera online' && l.camera === 'door', 60_000, 'camera door online');
  await receiver.waitFor((r) => r.alerts.size >= 1, 60_000).catch((e: Error) => assert.fail(`${e.message}\n${fs.tail()}`));
  assert.equal(await cameraUp(), 1, 'facestream_camera_up is 1 while the camera streams');
  const before = new Set(receiver.alerts.keys());
  const pid = fs.child.pid;

  // The camera vanishes.
  const stoppedAt = Date.now();
  await server.stop();
  const offline = await fs.waitForLog((l) => l.msg === 'camera offline' && l.camera === 'door' && l.time >= stoppedAt, 30_000, '"camera offline" after the server stopped');
  t.diagnostic(`offline ${offline.time - stoppedAt} ms after the server stopped (reason ${String(offline.reason)})`);
  await pollUntil(async () => (await cameraUp()) === 0, 10_000, 'facestream_camera_up 0 during the outage');
  const downFor = 10_000 - (Date.now() - stoppedAt);
  if (downFor > 0) await sleep(downFor);
  assert.ok(fs.running, `facestream keeps running while its only camera is down\n${fs.tail()}`);
  assert.equal(fs.logs.filter((l) => l.msg === 'camera online' && l.time > offline.time).length, 0, 'not online while the server is down');

  // It comes back on the same port: facestream reconnects by itself and alerts again.
  await server.restart();
  const restartedAt = Date.now();
  const online = await fs.waitForLog((l) => l.msg === 'camera online' && l.camera === 'door' && l.time >= restartedAt, 60_000, '"camera online" after the server restarted');
  t.diagnostic(`online again ${online.time - restartedAt} ms after the server restarted`);
  await pollUntil(async () => (await cameraUp()) === 1, 10_000, 'facestream_camera_up 1 after the reconnect');
  await receiver
    .waitFor((r) => [...r.alerts.values()].some((a) => !before.has(a.id) && Date.parse(a.firstSeen) >= restartedAt), 60_000)
    .catch((e: Error) => assert.fail(`no new alert after the reconnect: ${e.message}\n${fs.tail()}`));
  assert.equal(fs.child.pid, pid, 'the same facestream process');
  assert.ok(fs.running, 'still running');

  const r = await fetchText(metricsUrl);
  assert.ok((metricValue(r?.body ?? '', 'facestream_camera_reconnects_total{camera="door"}') ?? 0) >= 1, 'reconnects counted');

  // Clean shutdown on SIGTERM.
  fs.signal('SIGTERM');
  const exit = await fs.waitForExit(30_000, 'facestream to exit after SIGTERM');
  assert.deepEqual(exit, { code: 0, signal: null }, `exit status after SIGTERM\n${fs.tail()}`);
  assert.ok(fs.logsWith('shutting down').length === 1, 'logged "shutting down"');

  assert.deepEqual(receiver.rejected.map((x) => `${x.status} ${x.reason}`), [], 'every request verified');
  assert.deepEqual(receiver.duplicates, [], 'no alert delivered twice');
  const alerts = [...receiver.alerts.values()];
  t.diagnostic(`alerts: ${alerts.map((a) => `${a.identity.name}:${a.trackId}`).join(', ')}`);
  for (const a of alerts) assert.ok(['woman', 'man'].includes(a.identity.name) && a.camera === 'door', `alert ${a.camera}:${a.identity.name}`);
});
