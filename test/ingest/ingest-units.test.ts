/** Unit tests of the small ingest cores: URL validation and masking, backoff, frame splitting, the latest slot. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { backoffDelay, DEFAULT_BACKOFF } from '../../src/ingest/backoff';
import { FrameSplitter } from '../../src/ingest/frame-splitter';
import { LatestSlot } from '../../src/ingest/latest-slot';
import { maskSourceUrl, parseSourceUrl, scrubSecrets, SourceUrlError } from '../../src/ingest/source-url';

test('parseSourceUrl: kinds, ffmpeg input, masking', () => {
  const r = parseSourceUrl('rtsp://admin:pw123@10.0.0.5:554/Streaming/Channels/101');
  assert.equal(r.kind, 'rtsp');
  assert.equal(r.live, true);
  assert.equal(r.input, 'rtsp://admin:pw123@10.0.0.5:554/Streaming/Channels/101');
  assert.equal(r.masked, 'rtsp://***@10.0.0.5:554/Streaming/Channels/101');
  assert.equal(parseSourceUrl('rtsps://cam.example/x').kind, 'rtsp');
  assert.equal(parseSourceUrl('https://cam.example/mjpeg?token=abcdef').masked, 'https://cam.example/mjpeg?token=***');
  const f = parseSourceUrl('videos/a.mp4');
  assert.equal(f.kind, 'file');
  assert.equal(f.live, false);
  assert.ok(f.input.startsWith('/') && f.input.endsWith('/videos/a.mp4'), 'relative paths become absolute');
  assert.equal(parseSourceUrl('file:///data/a%20b.mp4').input, '/data/a b.mp4');
  assert.throws(() => parseSourceUrl('rtsp:///x'), /no host/);
  assert.throws(() => parseSourceUrl('udp://1.2.3.4:5000'), (e: unknown) => e instanceof SourceUrlError && /unsupported scheme "udp:"/.test(e.message));
  assert.throws(() => parseSourceUrl('file://remotehost/a.mp4'), /not a valid file:\/\/ URL/);
});

test('maskSourceUrl / scrubSecrets cover malformed URLs and ffmpeg-style messages', () => {
  assert.equal(maskSourceUrl('rtsp://u:p@ss@bad host/x'), 'rtsp://***@bad host/x');
  assert.equal(maskSourceUrl('rtsp:/admin:secret1@cam/x'), 'rtsp:/***@cam/x');
  const url = 'rtsp://admin:S%40fe99@cam.local/live?token=tok12345';
  const line = `[rtsp @ 0x1] ${url}: 401 Unauthorized; user admin, password S@fe99 S%40fe99, tok12345, tcp://x:y@host`;
  const clean = scrubSecrets(line, url);
  for (const s of ['admin', 'S@fe99', 'S%40fe99', 'tok12345', 'x:y@']) assert.ok(!clean.includes(s), `${s} in ${clean}`);
  assert.match(clean, /rtsp:\/\/\*\*\*@cam\.local\/live\?token=\*\*\*: 401 Unauthorized/);
  assert.match(clean, /tcp:\/\/\*\*\*@host/);
  assert.equal(scrubSecrets('nothing secret here', '/tmp/a.mp4'), 'nothing secret here');
});

test('backoffDelay: exponential, capped, ±jitter', () => {
  const o = DEFAULT_BACKOFF;
  const mid = () => 0.5; // no jitter
  assert.deepEqual([0, 1, 2, 3, 4, 5, 6].map((a) => backoffDelay(a, o, mid)), [1000, 2000, 4000, 8000, 16000, 30000, 30000]);
  assert.equal(backoffDelay(1, o, () => 0), 1600);
  assert.equal(backoffDelay(1, o, () => 0.999999), 2400);
  assert.equal(backoffDelay(10, o, () => 0.999999), 30000, 'the cap holds after jitter');
  for (let i = 0; i < 200; i++) {
    const d = backoffDelay(2, o);
    assert.ok(d >= 3200 && d <= 4800, `jittered delay ${d}`);
  }
});

test('FrameSplitter: exact frames from arbitrary chunking, partial frame held back', () => {
  const w = 3;
  const h = 2;
  const size = w * h * 3;
  const stream = Buffer.from(Array.from({ length: size * 3 + 5 }, (_, i) => i % 251));
  for (const chunk of [1, 7, size, size + 1, 1000]) {
    const s = new FrameSplitter(w, h);
    const frames: Uint8Array[] = [];
    for (let o = 0; o < stream.length; o += chunk) s.push(stream.subarray(o, o + chunk), (f) => frames.push(f.data));
    assert.equal(frames.length, 3, `chunk ${chunk}`);
    frames.forEach((f, i) => assert.deepEqual(Buffer.from(f), stream.subarray(i * size, (i + 1) * size)));
    for (const f of frames) {
      assert.equal(f.byteOffset, 0, 'each frame owns its ArrayBuffer');
      assert.equal(f.buffer.byteLength, size);
    }
    assert.equal(s.pendingBytes, 5);
  }
});

test('LatestSlot: newest wins, drops counted, waiting consumer served, close with and without drain', async () => {
  const slot = new LatestSlot<number>();
  assert.equal(slot.put(1), false);
  assert.equal(slot.put(2), true, 'overwriting an untaken value is a drop');
  assert.deepEqual(await slot.take(), { value: 2, done: false });
  const waiting = slot.take();
  assert.equal(slot.put(3), false, 'handed straight to the waiting consumer');
  assert.deepEqual(await waiting, { value: 3, done: false });
  slot.put(4);
  slot.close(true);
  assert.deepEqual(await slot.take(), { value: 4, done: false }, 'drain hands out the held value');
  assert.equal((await slot.take()).done, true);
  const other = new LatestSlot<number>();
  other.put(1);
  other.close(false);
  assert.equal((await other.take()).done, true);
  const pending = new LatestSlot<number>();
  const p = pending.take();
  pending.close(false);
  assert.equal((await p).done, true, 'a waiting consumer is released by close');
});
