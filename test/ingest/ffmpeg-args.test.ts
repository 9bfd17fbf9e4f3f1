/** Unit tests of the pure ffmpeg/ffprobe argument builders and the analysis-size rule (no ffmpeg needed). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  analysisSize,
  ffmpegInputOptions,
  ffmpegOutputOptions,
  ffprobeArgs,
  parseProbeJson,
  selectFilter,
  type InputArgsOptions,
} from '../../src/ingest/ffmpeg-args';

const rtsp: InputArgsOptions = { kind: 'rtsp', transport: 'tcp', realtime: false, ioTimeoutMs: 5000 };

/** The value following `flag` in an argument list. */
function after(args: string[], flag: string): string | undefined {
  const i = args.indexOf(flag);
  return i < 0 ? undefined : args[i + 1];
}

test('RTSP input options: transport, -timeout in microseconds (ffmpeg 5.1), quiet, no stdin, no -re', () => {
  const args = ffmpegInputOptions(rtsp);
  assert.equal(after(args, '-rtsp_transport'), 'tcp');
  assert.equal(after(args, '-timeout'), '5000000');
  assert.equal(after(args, '-loglevel'), 'error');
  assert.ok(args.includes('-nostdin'));
  assert.ok(!args.includes('-re'));
  assert.ok(!args.includes('-stimeout'), '-stimeout was removed in ffmpeg 5');
  assert.equal(after(ffmpegInputOptions({ ...rtsp, transport: 'udp' }), '-rtsp_transport'), 'udp');
  assert.ok(!args.includes('-probesize'));
  const fast = ffmpegInputOptions({ ...rtsp, fastStart: true });
  assert.equal(after(fast, '-probesize'), '32');
  assert.equal(after(fast, '-analyzeduration'), '0');
});

test('file input: -re only when realtime; hwaccel passed through verbatim before -i; http gets -rw_timeout', () => {
  const file: InputArgsOptions = { kind: 'file', transport: 'tcp', realtime: true, ioTimeoutMs: 5000 };
  assert.ok(ffmpegInputOptions(file).includes('-re'));
  assert.ok(!ffmpegInputOptions({ ...file, realtime: false }).includes('-re'));
  assert.equal(after(ffmpegInputOptions(file), '-rtsp_transport'), undefined);
  const hw = ffmpegInputOptions({ ...rtsp, hwaccel: ['-hwaccel', 'vaapi', '-hwaccel_device', '/dev/dri/renderD128'] });
  assert.deepEqual(hw.slice(-4), ['-hwaccel', 'vaapi', '-hwaccel_device', '/dev/dri/renderD128']);
  assert.equal(after(ffmpegInputOptions({ ...rtsp, kind: 'http' }), '-rw_timeout'), '5000000');
});

test('output options: first video stream, no audio, select+scale, passthrough timing, raw BGR24', () => {
  const args = ffmpegOutputOptions({ fps: 5, width: 320, height: 180 });
  assert.equal(after(args, '-map'), '0:v:0');
  assert.ok(args.includes('-an'));
  assert.equal(after(args, '-vf'), `${selectFilter(5)},scale=320:180:flags=area`);
  assert.equal(after(args, '-fps_mode'), 'passthrough');
  assert.equal(after(args, '-pix_fmt'), 'bgr24');
  assert.equal(after(args, '-f'), 'rawvideo');
  assert.match(selectFilter(2.5), /floor\(t\*2\.5\)/);
  assert.throws(() => ffmpegOutputOptions({ fps: 5, width: 321, height: 180 }), /even/);
  assert.throws(() => selectFilter(0), /fps must be a positive number/);
});

test('ffprobe args: fast header-only probe or full, transport options, input last', () => {
  const fast = ffprobeArgs('rtsp://h/x', rtsp, true);
  assert.equal(fast.at(-1), 'rtsp://h/x');
  assert.equal(after(fast, '-probesize'), '32');
  assert.equal(after(fast, '-rtsp_transport'), 'tcp');
  assert.ok(!ffprobeArgs('rtsp://h/x', rtsp, false).includes('-probesize'));
});

test('analysis size: keep aspect, cap width, even dimensions, never upscale', () => {
  assert.deepEqual(analysisSize({ width: 480, height: 270 }, 320), { width: 320, height: 180 });
  assert.deepEqual(analysisSize({ width: 1920, height: 1080 }, 640), { width: 640, height: 360 });
  assert.deepEqual(analysisSize({ width: 480, height: 270 }, 640), { width: 480, height: 270 });
  assert.deepEqual(analysisSize({ width: 321, height: 241 }, 640), { width: 320, height: 240 });
  assert.deepEqual(analysisSize({ width: 2592, height: 1944 }, 640), { width: 640, height: 480 });
  // Anamorphic 720x576 with SAR 16:15 is 768x576 on screen (4:3).
  assert.deepEqual(analysisSize({ width: 720, height: 576, sar: [16, 15] }, 640), { width: 640, height: 480 });
  // A phone clip rotated 90°: ffmpeg auto-rotates, so the frame is portrait.
  assert.deepEqual(analysisSize({ width: 1920, height: 1080, rotation: -90 }, 640), { width: 640, height: 1138 });
  assert.deepEqual(analysisSize({ width: 3, height: 3 }, 640), { width: 2, height: 2 });
});

test('ffprobe JSON parsing: size, SAR, rotation; clear errors', () => {
  const json = JSON.stringify({ streams: [{ width: 720, height: 576, sample_aspect_ratio: '16:15', side_data_list: [{ rotation: 90 }] }] });
  assert.deepEqual(parseProbeJson(json), { width: 720, height: 576, sar: [16, 15], rotation: 90 });
  assert.deepEqual(parseProbeJson(JSON.stringify({ streams: [{ width: 4, height: 2, sample_aspect_ratio: '1:1' }] })), { width: 4, height: 2 });
  assert.throws(() => parseProbeJson('{"streams":[]}'), /no video stream/);
  assert.throws(() => parseProbeJson('{"streams":[{"width":0,"height":0}]}'), /no size/);
  assert.throws(() => parseProbeJson(''), /no JSON/);
});
