/**
 * End to end, embedded mode over RTSP: the real CLI enrols the woman and the man from their own clips, then
 * `facestream run` watches two RTSP cameras of the real GStreamer server (the walking clip: the woman and two
 * strangers; the pair clip: the woman and the man) and posts signed alerts to a real receiver that verifies every
 * signature. No mocks: ffmpeg, MTCNN, the ONNX embedder, the SVM matcher, the spool and HTTP are all real.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Alert } from '../../src/alerts/alert';
import { SKIP_NO_FFMPEG } from '../support/ffmpeg-testsrc';
import { SKIP_NO_RTSP_SERVER, startRtspServer } from '../support/rtsp-server';
import { skipWithoutShared } from '../support/shared';
import { startWebhookReceiver } from '../support/webhook-receiver';
import { cliEnv, enrolWomanAndMan, fetchText, metricValue, sharedVideo, startCli, tempDir, WEBHOOK_SECRET, type LogLine } from './helpers';
import path from 'node:path';

const SKIP = skipWithoutShared('run the embedded RTSP end-to-end test (needs data/video)') || SKIP_NO_FFMPEG || SKIP_NO_RTSP_SERVER;

/** Checks the shape of one alert beyond the receiver's schema check; returns the decoded face JPEG size. */
function checkAlert(a: Alert): void {
  const where = `alert ${a.id} (${a.camera}, ${a.identity.name})`;
  assert.match(a.id, /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/, `${where}: id is a UUIDv5`);
  assert.ok(['walk', 'pair'].includes(a.camera), `${where}: camera is a name, not a URL`);
  assert.ok(a.identity.id.length > 0 && a.identity.name.length > 0, `${where}: identity`);
  assert.ok(a.watchlists.includes('default'), `${where}: on the default watchlist, got ${JSON.stringify(a.watchlists)}`);
  for (const k of ['svm', 'distance', 'detector'] as const) assert.ok(Number.isFinite(a.scores[k]), `${where}: scores.${k} finite`);
  assert.ok(a.scores.detector > 0 && a.scores.detector <= 1, `${where}: detector score in (0, 1]`);
  assert.ok(a.trackId.startsWith(`${a.camera}-`), `${where}: trackId ${a.trackId} belongs to the camera`);
  const first = Date.parse(a.firstSeen);
  const last = Date.parse(a.lastSeen);
  assert.ok(Number.isFinite(first) && Number.isFinite(last) && first <= last, `${where}: firstSeen <= lastSeen`);
  assert.ok(last <= Date.parse(a.createdAt) + 1000, `${where}: lastSeen not after createdAt`);
  const { box, frameSize } = a;
  assert.ok(box.width >= 10 && box.height >= 10, `${where}: box ${JSON.stringify(box)} is a face-sized box`);
  assert.ok(box.x > -box.width && box.y > -box.height && box.x < frameSize.width && box.y < frameSize.height, `${where}: box inside the frame`);
  assert.deepEqual(frameSize, { width: 480, height: 270 }, `${where}: frame size of the 480x270 clip`);
  const jpeg = Buffer.from(a.faceJpeg, 'base64');
  assert.ok(jpeg.length > 200, `${where}: face JPEG has ${jpeg.length} bytes`);
  assert.equal(jpeg[0], 0xff, `${where}: JPEG starts FF D8`);
  assert.equal(jpeg[1], 0xd8, `${where}: JPEG starts FF D8`);
  assert.equal(jpeg[jpeg.length - 2], 0xff, `${where}: JPEG ends FF D9`);
  assert.equal(jpeg[jpeg.length - 1], 0xd9, `${where}: JPEG ends FF D9`);
}

test('embedded over RTSP: the woman alerts on both cameras, the man on the pair camera, strangers never', { skip: SKIP, timeout: 240_000 }, async (t) => {
  const dir = tempDir(t, 'rtsp');
  const store = await enrolWomanAndMan(t, dir);

  const receiver = await startWebhookReceiver({ secret: WEBHOOK_SECRET });
  t.after(() => receiver.close());
  const server = await startRtspServer({
    walk: sharedVideo('face-demographics-walking-and-pause.mp4'),
    pair: sharedVideo('head-pose-face-detection-female-and-male.mp4'),
  });
  t.after(() => server.stop());

  const t0 = Date.now();
  // Debug logs: one "track matched" line per embedding, so the test sees every track's decision (strangers too).
  const fs = startCli(
    t,
    [
      'run',
      '--camera', `walk=${server.url('walk')}`,
      '--camera', `pair=${server.url('pair')}`,
      '--fps', '10',
      '--webhook', receiver.url,
      '--http-port', '0',
      '--exit-when-sources-end',
      '--store', store,
      '--spool', path.join(dir, 'spool'),
    ],
    cliEnv({ FACESTREAM_LOG_LEVEL: 'debug' }),
  );

  // The metrics URL is printed once the runtime is up; scrape it while the cameras play.
  const metricsUrl = await fs.waitUntil(() => fs.metricsUrl, 90_000, 'the "metrics at" line on stderr');
  const early = await fetchText(metricsUrl);
  assert.ok(early, `GET ${metricsUrl} answered while running`);
  assert.equal(early.status, 200);
  assert.match(early.type, /text\/plain/);
  for (const cam of ['walk', 'pair']) {
    assert.notEqual(metricValue(early.body, `facestream_camera_up{camera="${cam}"}`), undefined, `facestream_camera_up for ${cam} is exported`);
  }
  assert.ok((metricValue(early.body, 'facestream_gallery_version') ?? 0) >= 1, 'gallery version exported');
  await receiver.waitFor((r) => r.alerts.size >= 1, 60_000).catch((e: Error) => assert.fail(`${e.message}\n${fs.tail()}`));
  // The first alert may come from the walk camera before the pair camera's first region search (it runs between
  // whole-frame searches, once faces are in view): scrape until that search is counted, for up to 20 s of the run.
  const regionsSeen = (body: string): boolean => (metricValue(body, 'facestream_detections_total{camera="pair",search="regions"}') ?? 0) > 0;
  let during = fs.running ? await fetchText(metricsUrl) : undefined;
  for (const until = Date.now() + 20_000; during && !regionsSeen(during.body) && fs.running && Date.now() < until; ) {
    await new Promise((resolve) => setTimeout(resolve, 250));
    during = (fs.running ? await fetchText(metricsUrl) : undefined) ?? during;
  }
  if (during) {
    assert.ok((metricValue(during.body, 'facestream_frames_total{camera="pair"}') ?? 0) > 0, 'frames counted for the pair camera');
    assert.ok((metricValue(during.body, 'facestream_embeddings_total') ?? 0) > 0, 'embeddings counted');
    // At 10 fps the detection schedule searches every 2nd frame whole and, between, around the faces in view.
    for (const search of ['whole', 'regions']) {
      const n = metricValue(during.body, `facestream_detections_total{camera="pair",search="${search}"}`) ?? 0;
      assert.ok(n > 0, `pair camera frames searched ${search}: ${n}`);
    }
  } else t.diagnostic('facestream ended before the second /metrics scrape');

  const exit = await fs.waitForExit(120_000, 'facestream run --exit-when-sources-end to exit after the RTSP streams end');
  const seconds = ((Date.now() - t0) / 1000).toFixed(1);
  const frames = fs.logsWith('camera source ended').map((l) => `${String(l.camera)} ${String(l.frames)} frames`);
  t.diagnostic(`run took ${seconds} s; ${receiver.requests.length} webhook requests; decoded: ${frames.join(', ')}`);
  assert.deepEqual(exit, { code: 0, signal: null }, `exit status\n${fs.tail()}`);

  // Every request carried a valid signature and a valid alert.
  assert.deepEqual(receiver.rejected.map((r) => `${r.status} ${r.reason}`), [], 'no request refused by the receiver');
  assert.deepEqual(receiver.duplicates, [], 'no alert id delivered twice');
  assert.equal(receiver.acceptedIds.length, receiver.alerts.size, 'each alert id accepted once');

  const alerts = [...receiver.alerts.values()];
  for (const a of alerts) checkAlert(a);
  const byCamera = (cam: string) => alerts.filter((a) => a.camera === cam).map((a) => a.identity.name).sort();
  const summary = alerts.map((a) => `${a.camera}:${a.identity.name}:${a.trackId}`).join(', ');
  t.diagnostic(`alerts: ${summary}`);
  assert.deepEqual(byCamera('walk'), ['woman'], `walk camera alerts exactly the woman once (got ${summary})\n${fs.tail()}`);
  assert.deepEqual(byCamera('pair'), ['man', 'woman'], `pair camera alerts the man and the woman once each (got ${summary})\n${fs.tail()}`);
  assert.equal(alerts.length, 3, 'exactly one alert per (identity, camera)');
  assert.equal(new Set(alerts.map((a) => a.id)).size, 3, 'distinct alert ids');

  // What the matcher decided for every track: on the walk camera only the woman is ever accepted (tracks of her
  // may fragment and be refused by the cooldown, never a stranger), and the strangers were seen and rejected.
  const matched = fs.logsWith('track matched');
  const walkTracks = new Map<string, LogLine[]>();
  for (const l of matched.filter((l) => l.camera === 'walk')) walkTracks.set(String(l.trackId), [...(walkTracks.get(String(l.trackId)) ?? []), l]);
  const accepted = matched.filter((l) => l.camera === 'walk' && l.accepted === true);
  assert.ok(accepted.length > 0, 'the woman was accepted on the walk camera');
  for (const l of accepted) assert.equal(l.candidate, 'woman', `walk track ${String(l.trackId)} accepted only as the woman, got ${String(l.candidate)}`);
  const rejectedTracks = [...walkTracks.entries()].filter(([, ls]) => ls.every((l) => l.accepted === false)).map(([id]) => id);
  t.diagnostic(`walk tracks: ${[...walkTracks.keys()].join(', ')}; never accepted: ${rejectedTracks.join(', ')}`);
  assert.ok(rejectedTracks.length >= 2, `both strangers were analysed and rejected (tracks never accepted: ${rejectedTracks.join(', ') || 'none'})`);
  const pairAccepted = new Set(matched.filter((l) => l.camera === 'pair' && l.accepted === true).map((l) => String(l.candidate)));
  assert.deepEqual([...pairAccepted].sort(), ['man', 'woman'], 'the pair camera accepted only the woman and the man');

  // The alert log lines agree with what the receiver got; secrets never reach the log.
  assert.deepEqual(fs.logsWith('watchlist alert').map((l) => String(l.alertId)).sort(), alerts.map((a) => a.id).sort(), '"watchlist alert" logged once per alert');
  assert.ok(!fs.stderr.includes(WEBHOOK_SECRET.slice(6)), 'the webhook secret never appears in the log');
  assert.ok(fs.logsWith('camera online', 'walk').length >= 1 && fs.logsWith('camera online', 'pair').length >= 1, 'both cameras came online');
});
