/**
 * End to end through the management API (the embedded-mode scenario of test/e2e/embedded-rtsp.test.ts, driven over
 * HTTP): the real `facestream api` process; the woman is created and enrolled by uploading frames of her own clip
 * (head-pose-face-detection-female.mp4) as multipart images; then a camera is added over HTTP, streaming the walking
 * clip (the woman and two strangers) from the real GStreamer RTSP server. Her alert reaches a real receiver that
 * checks every signature, shows up in GET /alerts (without the face picture), and no stranger ever alerts.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { SKIP_NO_FFMPEG } from '../support/ffmpeg-testsrc';
import { SKIP_NO_RTSP_SERVER, startRtspServer } from '../support/rtsp-server';
import { skipWithoutShared } from '../support/shared';
import { startWebhookReceiver } from '../support/webhook-receiver';
import { cliEnv, sharedVideo, tempDir, WEBHOOK_SECRET, type LogLine } from '../e2e/helpers';
import { startCliApi } from './cli-api';

const SKIP = skipWithoutShared('run the enrol-through-the-API end-to-end test (needs data/video)') || SKIP_NO_FFMPEG || SKIP_NO_RTSP_SERVER;

/** Up to `n` JPEG frames of a clip, evenly spread (ffmpeg). */
async function clipFrames(clip: string, dir: string, n: number): Promise<Buffer[]> {
  mkdirSync(dir, { recursive: true });
  await promisify(execFile)('ffmpeg', ['-nostdin', '-hide_banner', '-loglevel', 'error', '-y', '-i', clip, '-vf', 'fps=5', '-frames:v', String(n), '-q:v', '2', path.join(dir, 'f%02d.jpg')]);
  return readdirSync(dir).filter((f) => f.endsWith('.jpg')).sort().map((f) => readFileSync(path.join(dir, f)));
}

test('enrol through the API, then stream: the alert arrives', { skip: SKIP, timeout: 300_000 }, async (t) => {
  const dir = tempDir(t, 'api-stream');
  const receiver = await startWebhookReceiver({ secret: WEBHOOK_SECRET });
  t.after(() => receiver.close());
  const rtsp = await startRtspServer({ walk: sharedVideo('face-demographics-walking-and-pause.mp4') });
  t.after(() => rtsp.stop());

  // Debug logs: one "track matched" line per embedding, so the test sees every track's decision (strangers too).
  const api = await startCliApi(t, {
    store: path.join(dir, 'store'),
    config: { alerts: { webhooks: [{ url: receiver.url }], spoolDir: path.join(dir, 'spool') } },
    env: cliEnv({ FACESTREAM_LOG_LEVEL: 'debug' }),
  });
  const { admin, viewer } = api.keys;

  // Enrol: create the identity, upload frames of her clip.
  const created = await api.call('POST', '/identities', { key: admin, json: { name: 'woman' } });
  assert.equal(created.status, 201, created.text);
  const id = created.body.id as string;
  const frames = await clipFrames(sharedVideo('head-pose-face-detection-female.mp4'), path.join(dir, 'frames'), 10);
  assert.ok(frames.length >= 8, `extracted ${frames.length} frames`);
  const form = new FormData();
  frames.forEach((f, i) => form.append('images', new Blob([f], { type: 'image/jpeg' }), `frame${i}.jpg`));
  const enrolled = await api.call('POST', `/identities/${id}/images`, { key: admin, form });
  assert.equal(enrolled.status, 200, enrolled.text);
  t.diagnostic(`enrolment: ${enrolled.body.accepted} of ${frames.length} frames accepted`);
  assert.ok(enrolled.body.accepted >= 5, `most frames accepted: ${JSON.stringify(enrolled.body.results?.map((r: { reason?: string }) => r.reason ?? 'ok'))}`);
  // The stream's matcher (the runtime in the api process) retrains on the saved gallery.
  await api.proc.waitForLog((l) => l.msg === 'matching model ready' && Number(l.identities) >= 1, 60_000, 'the stream matcher to train on the enrolled gallery');

  // Add the camera over HTTP; the api process starts it at once.
  const t0 = Date.now();
  const cam = await api.call('POST', '/cameras', { key: admin, json: { name: 'walk', url: rtsp.url('walk'), fps: 10 } });
  assert.equal(cam.status, 201, cam.text);
  await receiver.waitFor((r) => r.alerts.size >= 1, 90_000).catch((e: Error) => assert.fail(`${e.message}\n${api.proc.tail()}`));
  t.diagnostic(`first alert ${((Date.now() - t0) / 1000).toFixed(1)} s after POST /cameras`);

  // Let the clip play through twice more (the RTSP stream ends and the camera reconnects): strangers get every
  // chance to be (wrongly) recognised; the cooldown keeps her to one alert.
  const onlines = () => api.proc.logsWith('camera online', 'walk').length;
  await api.proc.waitUntil(() => (onlines() >= 3 ? true : undefined), 90_000, 'the walk clip to play three times');
  const status = await api.call('GET', '/cameras/walk/status', { key: viewer });
  assert.equal(status.status, 200);
  assert.ok(status.body.frames > 0 && status.body.lastFrameAt !== null, `status shows frames: ${status.text}`);

  assert.deepEqual(receiver.rejected.map((r) => `${r.status} ${r.reason}`), [], 'every webhook request carried a valid signature');
  assert.deepEqual(receiver.duplicates, [], 'no alert id delivered twice');
  const alerts = [...receiver.alerts.values()];
  const summary = alerts.map((a) => `${a.camera}:${a.identity.name}:${a.trackId}`).join(', ');
  t.diagnostic(`alerts: ${summary}`);
  assert.deepEqual(alerts.map((a) => [a.camera, a.identity.id, a.identity.name]), [['walk', id, 'woman']], `exactly her alert, once (got ${summary})\n${api.proc.tail()}`);

  // Every track's decision: only she is ever accepted; the strangers were analysed and rejected.
  const matched = api.proc.logsWith('track matched', 'walk');
  const tracks = new Map<string, LogLine[]>();
  for (const l of matched) tracks.set(String(l.trackId), [...(tracks.get(String(l.trackId)) ?? []), l]);
  for (const l of matched.filter((l) => l.accepted === true)) assert.equal(l.candidate, id, `track ${String(l.trackId)} accepted only as her`);
  const strangers = [...tracks.entries()].filter(([, ls]) => ls.every((l) => l.accepted === false)).map(([k]) => k);
  t.diagnostic(`walk tracks: ${tracks.size}; never accepted: ${strangers.join(', ')}`);
  assert.ok(strangers.length >= 2, `the strangers were analysed and rejected (tracks never accepted: ${strangers.join(', ') || 'none'})`);

  // The API lists the alert (filters by camera and identity), without the face picture.
  const alertId = alerts[0].id;
  for (const q of ['', '?camera=walk', `?identity=${id}`, `?since=${new Date(t0 - 1000).toISOString()}`]) {
    const r = await api.call('GET', `/alerts${q}`, { key: viewer });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.body.alerts.map((a: { id: string }) => a.id), [alertId], `GET /alerts${q}`);
    assert.ok(!r.text.includes('faceJpeg'), 'no face picture in GET /alerts');
  }
  assert.deepEqual((await api.call('GET', '/alerts?camera=other', { key: viewer })).body.alerts, []);
  const listed = (await api.call('GET', '/alerts', { key: viewer })).body.alerts[0];
  assert.equal(listed.identity.name, 'woman');
  assert.equal(listed.trackId, alerts[0].trackId);

  // Erasure: her alerts leave the feed and the stream's matcher is retrained without her before DELETE answers.
  const erased = await api.call('DELETE', `/identities/${id}`, { key: admin });
  assert.equal(erased.status, 200, erased.text);
  assert.match(erased.body.audit.detail ?? erased.body.audit.result, /recent alerts forgotten: 1; undelivered alerts erased: 0; stream matcher on gallery v\d+/, erased.text);
  assert.deepEqual((await api.call('GET', `/alerts?identity=${id}`, { key: viewer })).body.alerts, []);
  const ready = api.proc.logsWith('matching model ready').at(-1);
  assert.equal(ready?.identities, 0, 'the stream matcher runs on a gallery without her');

  const exit = await api.proc.stop();
  assert.deepEqual(exit, { code: 0, signal: null }, `graceful exit\n${api.proc.tail()}`);
  assert.ok(!api.proc.stderr.includes(WEBHOOK_SECRET.slice(6)), 'the webhook secret never appears in the log');
});
