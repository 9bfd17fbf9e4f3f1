/**
 * CameraSource on local files, with the real ffmpeg: size and rate of the decoded frames, play-once → 'ended',
 * the latest-frame slot under a slow consumer (drops counted, memory bounded), URL validation errors.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { CameraSource, type TimedFrame } from '../../src/ingest/camera-source';
import { SourceUrlError } from '../../src/ingest/source-url';
import { makeTestVideo, probeFile, sharedVideos, SKIP_NO_FFMPEG, SKIP_NO_SHARED_VIDEO } from '../support/ffmpeg-testsrc';
import { cameraFor, capturedLogger, waitFor } from './helpers';

test('a file source decodes at the requested fps and size (480x270 → maxWidth 320 → 320x180)', { skip: SKIP_NO_FFMPEG || SKIP_NO_SHARED_VIDEO, timeout: 60000 }, async (t) => {
  const file = sharedVideos()[0]!;
  const info = await probeFile(file);
  assert.equal(`${info.width}x${info.height}`, '480x270', 'the shared clips are 480x270');
  const fps = 5;
  const { log } = capturedLogger();
  const source = cameraFor(t, { name: 'file-cam', url: file, fps, maxWidth: 320, log });
  const frames: TimedFrame[] = [];
  source.on('frame', (f) => frames.push(f));
  const ended = new Promise<void>((resolve) => source.once('ended', () => resolve()));
  const t0 = Date.now();
  source.start();
  await ended;
  const wallS = (Date.now() - t0) / 1000;
  await source.stop();

  // One frame per 1/fps slot of the clip: duration·fps, give or take the slot boundaries at both ends.
  const expected = info.duration * fps;
  t.diagnostic(`${frames.length} frames for ${info.duration}s at ${fps} fps (expected ≈${expected.toFixed(1)}), played in ${wallS.toFixed(2)}s`);
  assert.ok(Math.abs(frames.length - expected) <= 2, `expected ≈${expected.toFixed(1)} frames, got ${frames.length}`);
  for (const f of frames) {
    assert.equal(f.width, 320);
    assert.equal(f.height, 180);
    assert.equal(f.data.length, 320 * 180 * 3);
    assert.equal(f.camera, 'file-cam');
  }
  assert.deepEqual(frames.map((f) => f.seq), frames.map((_, i) => i + 1), 'seq counts up from 1 without gaps');
  for (let i = 1; i < frames.length; i++) assert.ok(frames[i]!.ts >= frames[i - 1]!.ts, 'ts is non-decreasing');
  // -re: the clip is read at its native rate, so playing it takes about its duration (not a speed assertion:
  // a lower bound only, which proves frames were not decoded as fast as possible).
  assert.ok(wallS >= info.duration * 0.8, `realtime playback of ${info.duration}s took only ${wallS}s`);
  // Real image content, not a blank buffer: the clip has people on a varied background.
  const sample = frames[Math.floor(frames.length / 2)]!.data;
  let min = 255;
  let max = 0;
  for (let i = 0; i < sample.length; i += 7) {
    min = Math.min(min, sample[i]!);
    max = Math.max(max, sample[i]!);
  }
  assert.ok(max - min > 50, `decoded frame has real contrast (min ${min}, max ${max})`);
  assert.equal(source.stats.frames, frames.length);
  assert.equal(source.stats.reconnects, 0);
  assert.equal(source.stats.lastError, null);
});

test('a small source is never upscaled, and fps above the source rate gives the source rate', { skip: SKIP_NO_FFMPEG, timeout: 60000 }, async (t) => {
  const file = await makeTestVideo({ seconds: 2, width: 160, height: 120, fps: 10 });
  const source = cameraFor(t, { name: 'small', url: file, fps: 25, maxWidth: 640, realtime: false, log: capturedLogger().log });
  const frames: TimedFrame[] = [];
  source.on('frame', (f) => frames.push(f));
  const ended = new Promise<void>((resolve) => source.once('ended', () => resolve()));
  source.start();
  await ended;
  await source.stop();
  assert.ok(frames.length > 0);
  assert.equal(`${frames[0]!.width}x${frames[0]!.height}`, '160x120');
  // 2 s at 10 fps = 20 frames; asking for 25 fps must not invent duplicates.
  assert.ok(frames.length >= 19 && frames.length <= 20, `expected 20 frames, got ${frames.length}`);
});

test("a file played once emits 'ended', ends frames() after the last frame, and does not reconnect", { skip: SKIP_NO_FFMPEG || SKIP_NO_SHARED_VIDEO, timeout: 60000 }, async (t) => {
  const durations = await Promise.all(sharedVideos().map(async (f) => ({ f, d: (await probeFile(f)).duration })));
  const shortest = durations.sort((a, b) => a.d - b.d)[0]!.f;
  const source = cameraFor(t, { name: 'once', url: shortest, fps: 5, log: capturedLogger().log });
  const events: string[] = [];
  for (const e of ['online', 'offline', 'reconnecting', 'ended'] as const) source.on(e, () => events.push(e));
  source.start();
  let consumed = 0;
  for await (const frame of source.frames()) {
    consumed += 1;
    assert.equal(frame.width, 480, 'maxWidth 640 does not upscale a 480-wide clip');
  }
  // The iterator finished on its own: the source ended.
  assert.ok(consumed > 0);
  assert.equal(source.state, 'ended');
  assert.deepEqual(events, ['online', 'ended']);
  await new Promise((r) => setTimeout(r, 1500));
  assert.equal(source.stats.reconnects, 0, 'a file played once is not restarted');
  assert.deepEqual(events, ['online', 'ended']);
  await source.stop();
});

test('a slow consumer gets the newest frame: drops are counted and memory stays bounded', { skip: SKIP_NO_FFMPEG, timeout: 60000 }, async (t) => {
  setFlagsFromString('--expose_gc');
  const gc = runInNewContext('gc') as () => void;
  // 60 s of 320x240 at 10 fps decoded as fast as possible: 600 frames, 138 MB of BGR in total.
  const file = await makeTestVideo({ seconds: 60, width: 320, height: 240, fps: 10 });
  await fullGc(gc);
  const before = process.memoryUsage().arrayBuffers;
  const source = cameraFor(t, { name: 'slow', url: file, fps: 10, realtime: false, log: capturedLogger().log });
  const dropsSeen: number[] = [];
  let consumed = 0;
  let peak = 0;
  const sampler = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().arrayBuffers - before);
  }, 50);
  source.start();
  for await (const frame of source.frames()) {
    consumed += 1;
    assert.equal(frame.data.length, 320 * 240 * 3);
    dropsSeen.push(source.stats.dropped);
    await new Promise((r) => setTimeout(r, 250)); // the "analysis" is much slower than decoding
  }
  clearInterval(sampler);
  const { frames, dropped } = source.stats;
  await source.stop();
  await fullGc(gc);
  const retained = process.memoryUsage().arrayBuffers - before;

  assert.ok(frames >= 590 && frames <= 600, `all frames were decoded (got ${frames})`);
  assert.equal(consumed + dropped, frames, 'every decoded frame was either consumed or counted as dropped');
  assert.ok(dropped > frames / 2, `most frames were dropped (${dropped} of ${frames})`);
  assert.ok(dropsSeen.some((d, i) => i > 0 && d > dropsSeen[i - 1]!), 'the drop count grew while consuming');
  const MB = 1024 * 1024;
  t.diagnostic(`decoded ${frames}, consumed ${consumed}, dropped ${dropped}; external memory peak +${(peak / MB).toFixed(1)} MB, retained +${(retained / MB).toFixed(1)} MB`);
  // A queue would hold up to 138 MB; the slot holds one 230 kB frame (garbage aside).
  assert.ok(retained < 16 * MB, `retained ${(retained / MB).toFixed(1)} MB after the run`);
  assert.ok(peak < 100 * MB, `peak external memory ${(peak / MB).toFixed(1)} MB during the run`);
});

test('a malformed URL is rejected up front with the problem named and the credentials masked', () => {
  const cases: Array<[string, RegExp]> = [
    ['rtsp://admin:Hunter2Secret@bad host:554/stream', /not a valid URL/],
    ['rtsp://admin:Hunter2Secret@:554/stream', /no host|not a valid URL/],
    ['rtsp:/admin:Hunter2Secret@cam/stream', /must be followed by "\/\/host"/],
    ['ftp://admin:Hunter2Secret@cam/stream', /unsupported scheme "ftp:"/],
    ['rtsp://admin:Hunter2Secret@cam:99999/stream', /not a valid URL/],
    ['rtsp://admin:Hunt@r2Secret@cam host/x', /not a valid URL/],
    [' rtsp://admin:Hunter2Secret@cam/stream', /whitespace/],
    ['', /empty/],
  ];
  for (const [url, problem] of cases) {
    assert.throws(
      () => new CameraSource({ name: 'bad', url }),
      (err: unknown) => {
        assert.ok(err instanceof SourceUrlError, `SourceUrlError for ${JSON.stringify(url.length)}`);
        assert.match(err.message, problem);
        assert.match(err.message, /camera "bad"/);
        assert.match(err.message, /expected rtsp:\/\//);
        assert.doesNotMatch(err.message, /Hunter2Secret|r2Secret|Hunt|admin/, `credentials leaked: ${err.message}`);
        if (url.includes('@')) assert.match(err.message, /\*\*\*@/);
        return true;
      },
    );
  }
});

test('invalid options are rejected with the option named', () => {
  assert.throws(() => new CameraSource({ name: 'x', url: '/tmp/a.mp4', fps: 0 }), /fps must be/);
  assert.throws(() => new CameraSource({ name: 'x', url: '/tmp/a.mp4', maxWidth: 1 }), /maxWidth must be/);
  assert.throws(() => new CameraSource({ name: 'x', url: 'rtsp://h/x', transport: 'sctp' as 'tcp' }), /transport must be/);
  assert.throws(() => new CameraSource({ name: '', url: 'rtsp://h/x' }), /camera name/);
  assert.throws(() => new CameraSource({ name: 'x', url: 'rtsp://h/x', backoff: { factor: 0.5 } }), /factor/);
});

test('stop() ends a waiting frames() iterator and leaves no ffmpeg process behind', { skip: SKIP_NO_FFMPEG, timeout: 30000 }, async (t) => {
  const file = await makeTestVideo({ seconds: 60, width: 320, height: 240, fps: 10 });
  const source = cameraFor(t, { name: 'stopper', url: file, log: capturedLogger().log });
  assert.deepEqual(childProcesses(), [], 'no child processes before start');
  source.start();
  const it = source.frames()[Symbol.asyncIterator]();
  const next = it.next();
  await waitFor(() => source.stats.frames > 0, 20000, 'first frame');
  await source.stop();
  const r = await Promise.race([next.then(() => 'settled'), new Promise((res) => setTimeout(() => res('hung'), 1000))]);
  assert.equal(r, 'settled');
  assert.equal((await it.next()).done, true, 'the iterator is finished after stop()');
  const frames = source.stats.frames;
  await new Promise((r2) => setTimeout(r2, 600));
  assert.equal(source.stats.frames, frames, 'no frames after stop()');
  assert.equal(source.state, 'stopped');
  assert.deepEqual(childProcesses(), [], 'ffmpeg is gone after stop()');
});

/** Several collections with pauses: array buffers are freed by V8's (concurrent) sweeper, not synchronously. */
async function fullGc(gc: () => void): Promise<void> {
  for (let i = 0; i < 4; i++) {
    gc();
    await new Promise((r) => setTimeout(r, 50));
  }
}

function childProcesses(): string[] {
  const r = spawnSync('ps', ['-o', 'pid=,comm=', '--ppid', String(process.pid)], { encoding: 'utf8' });
  return r.stdout.split('\n').map((l) => l.trim()).filter((l) => l !== '' && !/\bps$/.test(l));
}
