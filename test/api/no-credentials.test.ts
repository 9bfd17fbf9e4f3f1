/**
 * No credential from a camera URL — and no API key — appears in any API response, any log line of the `facestream
 * api` process (debug level: ffmpeg's own output included) or its /metrics. The real process runs cameras whose URLs
 * carry user:password (one streaming from the real RTSP server, others failing in different ways so their errors
 * are reported), and gets requests that put the password where a careless server would echo it: invalid URLs,
 * a URL given as the camera name, unknown fields, malformed JSON, a PATCH of the URL.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { makeTestVideo, SKIP_NO_FFMPEG } from '../support/ffmpeg-testsrc';
import { closedPort } from '../support/net';
import { SKIP_NO_RTSP_SERVER, startRtspServer } from '../support/rtsp-server';
import { cliEnv, pollUntil, tempDir } from '../e2e/helpers';
import { startCliApi } from './cli-api';

const SKIP = SKIP_NO_FFMPEG || SKIP_NO_RTSP_SERVER;
const USER = 'opsviewer';
const PASSWORD = 'Zq7-hunter2-Vx';
/** Needs %-encoding in a URL: both forms must stay hidden. */
const ODD_PASSWORD = 'p@ss:w/rd#Kq';

test('no camera credential or API key in any response, log line or metric', { skip: SKIP, timeout: 240_000 }, async (t) => {
  const dir = tempDir(t, 'api-creds');
  const video = await makeTestVideo({ seconds: 4, width: 320, height: 240, fps: 10 });
  const rtsp = await startRtspServer({ cam: video });
  t.after(() => rtsp.stop());
  const api = await startCliApi(t, { store: path.join(dir, 'store'), env: cliEnv({ FACESTREAM_LOG_LEVEL: 'debug' }) });
  const { admin, viewer } = api.keys;
  const dead = await closedPort();
  const odd = encodeURIComponent(ODD_PASSWORD);

  const good: [string, string][] = [
    ['live', rtsp.url('cam', { user: USER, password: PASSWORD })],
    ['refused', `rtsp://${USER}:${PASSWORD}@127.0.0.1:${dead}/stream?token=${PASSWORD}`],
    ['tls', `rtsps://${USER}:${odd}@127.0.0.1:${dead}/x`],
    ['web', `http://${USER}:${PASSWORD}@127.0.0.1:${dead}/snapshot.mjpg`],
    ['nostream', rtsp.url('missing', { user: USER, password: PASSWORD })],
  ];
  for (const [name, url] of good) {
    const r = await api.call('POST', '/cameras', { key: admin, json: { name, url, fps: 5 } });
    assert.equal(r.status, 201, `${name}: ${r.text}`);
    assert.ok(r.body.url.includes('***@'), `${name}: masked in the answer (${r.body.url})`);
  }

  // Requests that carry the password where a careless server would echo it back.
  const bad: [string, string, unknown, number][] = [
    ['POST', '/cameras', { name: 'p0', url: `rtsp://${USER}:${PASSWORD}@127.0.0.1:0/x` }, 400],
    ['POST', '/cameras', { name: 'p1', url: `rtsp://${USER}:${PASSWORD}@127.0.0.1:99999/x` }, 400],
    ['POST', '/cameras', { name: 'p2', url: `ftp://${USER}:${PASSWORD}@h/x` }, 400],
    ['POST', '/cameras', { name: 'p3', url: `rtsp://${USER}:${PASSWORD}@h /x` }, 400],
    ['POST', '/cameras', { name: `rtsp://${USER}:${PASSWORD}@h`, url: rtsp.url('cam') }, 400],
    ['POST', '/cameras', { name: 'p4', url: rtsp.url('cam'), password: PASSWORD }, 400],
    ['POST', '/cameras', { name: 'p5', url: rtsp.url('cam'), fps: `rtsp://${USER}:${PASSWORD}@h` }, 400],
    ['POST', '/cameras', { name: 'live', url: `rtsp://${USER}:${PASSWORD}@elsewhere/x` }, 409],
    ['PATCH', '/cameras/live', { url: `rtsp://${USER}:${PASSWORD}@127.0.0.1:0/x` }, 400],
    ['PATCH', '/cameras/nope', { url: `rtsp://${USER}:${PASSWORD}@h/x` }, 404],
    ['GET', `/alerts?camera=rtsp://${USER}:${PASSWORD}@h`, undefined, 400],
  ];
  for (const [method, route, json, status] of bad) {
    const r = await api.call(method, route, { key: admin, json });
    assert.equal(r.status, status, `${method} ${route}: ${r.text}`);
  }
  for (const snippet of [`{"name":"x","url":"rtsp://${USER}:${PASSWORD}@h/x"`, `{"url": "rtsp://${USER}:${PASSWORD}@h/x", }`]) {
    const res = await fetch(`${api.url}/cameras`, { method: 'POST', headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' }, body: snippet });
    const text = await res.text();
    api.answers.push(`${res.status} POST /cameras (malformed JSON)\n${text}`);
    assert.equal(res.status, 400, text);
  }
  // A PATCH that changes the credentials: the old and new password are both stored-only.
  const patched = await api.call('PATCH', '/cameras/tls', { key: admin, json: { url: `rtsps://${USER}:${PASSWORD}@127.0.0.1:${dead}/y` } });
  assert.equal(patched.status, 200, patched.text);

  // Let every camera run, fail and report (ffmpeg/ffprobe errors quote the URL), then read everything.
  await pollUntil(async () => (await api.call('GET', '/cameras/live/status', { key: viewer })).body.online === true, 60_000, 'camera live online');
  for (const name of ['refused', 'tls', 'web', 'nostream']) {
    await pollUntil(async () => (await api.call('GET', `/cameras/${name}/status`, { key: viewer })).body.lastError !== null, 60_000, `camera ${name} to report its error`);
  }
  await api.call('GET', '/cameras', { key: viewer });
  for (const [name] of good) await api.call('GET', `/cameras/${name}`, { key: viewer });
  await api.call('GET', '/alerts', { key: viewer });
  await api.call('GET', '/openapi.json', { key: viewer });
  await api.call('GET', '/readyz');
  const metrics = await api.call('GET', '/metrics');
  assert.match(metrics.text, /facestream_camera_up\{camera="live"\} 1/);
  const errors = (await Promise.all(['refused', 'tls', 'web', 'nostream'].map((n) => api.call('GET', `/cameras/${n}/status`, { key: viewer })))).map((r) => r.body.lastError as string);
  t.diagnostic(`reported errors: ${errors.join(' || ')}`);
  assert.ok(api.proc.logs.some((l) => l.msg === 'ffmpeg stderr' || l.msg === 'camera offline'), 'the log has camera failures in it (the grep below has something to look at)');
  assert.equal((await api.call('DELETE', '/cameras/refused', { key: admin })).status, 204);

  const exit = await api.proc.stop();
  assert.deepEqual(exit, { code: 0, signal: null }, api.proc.tail());

  const secrets: [string, string][] = [
    ['camera password', PASSWORD],
    ['camera password (odd)', ODD_PASSWORD],
    ['camera password (odd, %-encoded)', odd],
    ['camera user:password', `${USER}:`],
    ['admin API key', admin],
    ['viewer API key', viewer],
  ];
  const places: [string, string[]][] = [
    ['API answers', api.answers],
    ['log lines (stderr)', api.proc.stderr.split('\n')],
    ['stdout', api.proc.stdout.split('\n')],
    ['/metrics', metrics.text.split('\n')],
  ];
  const found: string[] = [];
  for (const [where, texts] of places) {
    for (const [what, secret] of secrets) {
      for (const text of texts) if (text.includes(secret)) found.push(`${what} in ${where}: ${text.slice(0, 300)}`);
    }
  }
  assert.deepEqual(found, [], 'no secret anywhere');
  t.diagnostic(`checked ${api.answers.length} answers, ${api.proc.stderr.split('\n').length} log lines, ${metrics.text.split('\n').length} metric lines`);
});
