/** Camera URLs the management API accepts (scheme, host, port) and the messages of the ones it refuses. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cameraUrlProblem, hasCredentials } from '../../../src/api/cameras/url';

test('network URLs with a host and a valid port are accepted', () => {
  for (const url of [
    'rtsp://10.0.0.5/stream1',
    'rtsp://user:p%40ss@10.0.0.5:554/Streaming/Channels/101',
    'rtsps://cam.example.com:322/x',
    'http://h:8080/video.mjpg',
    'https://[2001:db8::1]:443/live',
    'RTSP://Host/x',
    'rtsp://u:p@h:65535/x',
    'rtsp://u:p@h:1/x',
  ]) {
    assert.equal(cameraUrlProblem(url), undefined, url);
  }
});

test('refused URLs say what is wrong, with credentials masked', () => {
  const cases: [unknown, RegExp][] = [
    ['', /got an empty string/],
    [null, /got null/],
    [5, /got number/],
    ['x'.repeat(3000), /at most 2048 characters, got 3000/],
    ['/var/video.mp4', /file paths are not accepted/],
    ['file:///etc/shadow', /unsupported scheme "file:"/],
    ['ftp://u:hunter2@h/x', /unsupported scheme "ftp:"/],
    ['rtsp:/h/x', /must be followed by "\/\/host"/],
    ['rtsp://u:hunter2@h:0/x', /port "0" is not 1\.\.65535/],
    ['rtsp://u:hunter2@h:65536/x', /port "65536" is not 1\.\.65535/],
    ['rtsp://u:hunter2@h:12ab/x', /port "12ab" is not 1\.\.65535/],
    ['rtsp://[::1]:99999/x', /port "99999" is not 1\.\.65535/],
    ['rtsp://u:hunter2@/x', /has no host|not a valid URL/],
    ['rtsp://u:hunter2@h\n/x', /control characters/],
  ];
  for (const [url, re] of cases) {
    const p = cameraUrlProblem(url);
    assert.ok(p, `${String(url).slice(0, 40)} refused`);
    assert.match(p, re, String(url).slice(0, 40));
    assert.match(p, /^expected an rtsp:\/\/, rtsps:\/\/, http:\/\/ or https:\/\/ URL/);
    assert.doesNotMatch(p, /hunter2/, 'the password is never shown');
  }
});

test('hasCredentials', () => {
  assert.equal(hasCredentials('rtsp://u:p@h/x'), true);
  assert.equal(hasCredentials('rtsp://u@h/x'), true);
  assert.equal(hasCredentials('rtsp://h/x'), false);
  assert.equal(hasCredentials('rtsp://u:p@h:0/x'), true);
});
