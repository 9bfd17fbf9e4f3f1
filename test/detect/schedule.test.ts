import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import type { DetectRegion, FaceDetector } from '../../src/detect/detector';
import { iou } from '../../src/detect/nms';
import { DetectionSchedule, fullEveryFrames, regionsAround } from '../../src/detect/schedule';
import type { Box, FaceDetection } from '../../src/detect/types';
import type { Frame } from '../../src/image/frame';
import { groundTruth, openTestDetector, readFrame, SAMPLE_DIR, SHARED_DIR } from './helpers';

const face = (x: number, y: number, size: number, score = 0.9): FaceDetection => ({
  box: { x, y, width: size, height: size },
  score,
  landmarks: [
    { x: x + size * 0.3, y: y + size * 0.4 },
    { x: x + size * 0.7, y: y + size * 0.4 },
    { x: x + size * 0.5, y: y + size * 0.6 },
    { x: x + size * 0.35, y: y + size * 0.8 },
    { x: x + size * 0.65, y: y + size * 0.8 },
  ],
});
const frame = (w = 640, h = 360): Frame => ({ width: w, height: h, data: new Uint8Array(w * h * 3) });

test('fullEveryFrames: whole-frame detections every interval at the analysis rate; 0 or bad values mean every frame', () => {
  assert.equal(fullEveryFrames(200, 25), 5);
  assert.equal(fullEveryFrames(200, 5), 1);
  assert.equal(fullEveryFrames(400, 25), 10);
  assert.equal(fullEveryFrames(0, 25), 1);
  assert.equal(fullEveryFrames(200, 0), 1);
  assert.equal(fullEveryFrames(200, Number.NaN), 1);
});

test('regionsAround: twice the face, centred, clipped to the frame, searched from 0.7 of its size', () => {
  const [r] = regionsAround([{ x: 100, y: 100, width: 40, height: 50 }], 640, 360);
  // side 50, half-extent 25 + 25 = 50 around the centre (120, 125).
  assert.deepEqual(r.box, { x: 70, y: 75, width: 100, height: 100 });
  assert.equal(r.minFaceSize, 35);
  const [edge] = regionsAround([{ x: 0, y: 330, width: 30, height: 30 }], 640, 360, 1, 0.5);
  assert.deepEqual(edge.box, { x: 0, y: 300, width: 60, height: 60 });
  assert.equal(edge.minFaceSize, 15);
  assert.equal(regionsAround([{ x: 0, y: 0, width: 10, height: 10 }, { x: 5, y: 5, width: 10, height: 10 }], 640, 360).length, 2, 'overlapping regions stay apart');
  assert.deepEqual(regionsAround([{ x: 700, y: 10, width: 10, height: 10 }], 640, 360), [], 'a face outside the frame gives no region');
});

/** A detector that answers from a script and records how it was called. */
class ScriptedDetector implements FaceDetector {
  readonly name = 'scripted';
  readonly calls: { kind: 'whole' | 'regions'; regions?: readonly DetectRegion[] }[] = [];
  constructor(private readonly answer: (call: number) => FaceDetection[]) {}
  async detect(): Promise<FaceDetection[]> {
    this.calls.push({ kind: 'whole' });
    return this.answer(this.calls.length - 1);
  }
  async detectIn(_f: Frame, regions: readonly DetectRegion[]): Promise<FaceDetection[]> {
    this.calls.push({ kind: 'regions', regions });
    return this.answer(this.calls.length - 1);
  }
}

test('DetectionSchedule: whole frame every fullEvery frames, regions around the last faces between', async () => {
  const inner = new ScriptedDetector(() => [face(100, 100, 40), face(300, 100, 40)]);
  const s = new DetectionSchedule(inner, { fullEvery: 3 });
  const kinds: (string | undefined)[] = [];
  for (let i = 0; i < 7; i++) {
    assert.equal((await s.detect(frame())).length, 2);
    kinds.push(s.lastSearch);
  }
  assert.deepEqual(kinds, ['whole', 'regions', 'regions', 'whole', 'regions', 'regions', 'whole']);
  assert.deepEqual(inner.calls.map((c) => c.kind), ['whole', 'regions', 'regions', 'whole', 'regions', 'regions', 'whole']);
  assert.deepEqual(s.stats, { full: 3, regions: 4, skipped: 0 });
  const regions = inner.calls[1].regions!;
  assert.equal(regions.length, 2);
  assert.ok(regions.every((r) => r.box.width === 80 && r.minFaceSize === 28), JSON.stringify(regions));
});

test('DetectionSchedule: frames between whole detections are skipped when no face was seen; a lost face brings a whole detection', async () => {
  let faces: FaceDetection[] = [];
  const inner = new ScriptedDetector(() => faces);
  const s = new DetectionSchedule(inner, { fullEvery: 4 });
  const kinds: (string | undefined)[] = [];
  for (let i = 0; i < 5; i++) {
    await s.detect(frame());
    kinds.push(s.lastSearch);
  }
  assert.deepEqual(kinds, ['whole', 'skipped', 'skipped', 'skipped', 'whole']);
  assert.deepEqual(inner.calls.map((c) => c.kind), ['whole', 'whole'], 'frames 2-4 were not searched');
  assert.equal(s.stats.skipped, 3);
  faces = [face(10, 10, 30), face(200, 10, 30)];
  await s.detect(frame()); // 6th: between (since the 5th, a whole one): regions, but no face was seen before: skipped
  await s.detect(frame()); // 7th: skipped
  await s.detect(frame()); // 8th: skipped
  await s.detect(frame()); // 9th: whole, finds two
  faces = [face(10, 10, 30)];
  await s.detect(frame()); // 10th: regions, one face lost
  await s.detect(frame()); // 11th: whole at once
  assert.deepEqual(inner.calls.slice(2).map((c) => c.kind), ['whole', 'regions', 'whole']);
  await assert.rejects(async () => new DetectionSchedule(inner, { fullEvery: 0 }), /fullEvery/);
});

test('a detector without detectIn is asked for whole frames every time', async () => {
  let n = 0;
  const plain: FaceDetector = { name: 'plain', detect: async () => (n++, [face(0, 0, 20)]) };
  const s = new DetectionSchedule(plain, { fullEvery: 5 });
  for (let i = 0; i < 4; i++) await s.detect(frame());
  assert.equal(n, 4);
});

test('detectIn (MTCNN): a region around one face of a photo finds that face as the whole-frame detection does; an empty region finds none', async (t) => {
  const detector = openTestDetector(t, 'mtcnn', { maxWidth: 640 });
  if (!detector) return;
  const img = groundTruth()[0];
  const f = readFrame(path.join(SAMPLE_DIR, img.file));
  const whole = await detector.detect(f);
  assert.equal(whole.length, 3);
  const target = whole[0];
  const regions = regionsAround([target.box], f.width, f.height);
  const inRegion = await detector.detectIn!(f, regions);
  const same = inRegion.find((d) => iou(d.box, target.box) > 0.7);
  assert.ok(same, `the face ${JSON.stringify(target.box)} was found again: ${JSON.stringify(inRegion.map((d) => d.box))}`);
  const eye = Math.hypot(target.landmarks[1].x - target.landmarks[0].x, target.landmarks[1].y - target.landmarks[0].y);
  same.landmarks.forEach((p, i) => assert.ok(Math.hypot(p.x - target.landmarks[i].x, p.y - target.landmarks[i].y) < 0.15 * eye, `landmark ${i}`));
  const emptyBox: Box = { x: 0, y: f.height - 120, width: 120, height: 120 };
  assert.ok(whole.every((d) => iou(d.box, emptyBox) === 0), 'the corner holds no face');
  assert.deepEqual(await detector.detectIn!(f, [{ box: emptyBox }]), []);
});

test('MTCNN on a real video, whole frame every 5th frame: the faces of whole-frame detection on every frame are found', async (t) => {
  const video = path.join(SHARED_DIR, 'data', 'video', 'head-pose-face-detection-female-and-male.mp4');
  if (!existsSync(video)) return t.skip(`${video} absent (set FACESTREAM_SHARED_DIR)`);
  const detector = openTestDetector(t, 'mtcnn', { maxWidth: 640 }, false);
  if (!detector) return;
  const [w, h] = execFileSync('ffprobe', ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'stream=width,height', '-of', 'csv=p=0', video])
    .toString()
    .trim()
    .split(',')
    .map(Number);
  const raw = execFileSync('ffmpeg', ['-v', 'error', '-i', video, '-f', 'rawvideo', '-pix_fmt', 'bgr24', '-'], { maxBuffer: 1 << 30 });
  const frames: Frame[] = [];
  for (let o = 0; o + w * h * 3 <= raw.length; o += w * h * 3) frames.push({ width: w, height: h, data: new Uint8Array(raw.subarray(o, o + w * h * 3)) });
  const schedule = new DetectionSchedule(detector, { fullEvery: 5 });
  let expected = 0;
  let found = 0;
  const landmarkErr: number[] = [];
  for (const f of frames) {
    const ref = await detector.detect(f);
    const got = await schedule.detect(f);
    expected += ref.length;
    for (const r of ref) {
      const m = got.find((g) => iou(g.box, r.box) > 0.5);
      if (!m) continue;
      found += 1;
      const eye = Math.hypot(r.landmarks[1].x - r.landmarks[0].x, r.landmarks[1].y - r.landmarks[0].y);
      landmarkErr.push(Math.max(...r.landmarks.map((p, i) => Math.hypot(p.x - m.landmarks[i].x, p.y - m.landmarks[i].y))) / eye);
    }
  }
  landmarkErr.sort((a, b) => a - b);
  const median = landmarkErr[landmarkErr.length >> 1];
  t.diagnostic(`${frames.length} frames: ${found}/${expected} faces found, ${JSON.stringify(schedule.stats)}, landmark deviation median ${median.toFixed(3)} eye distances`);
  assert.ok(schedule.stats.regions > schedule.stats.full, 'most frames were searched in regions');
  assert.ok(found >= 0.97 * expected, `${found}/${expected}`);
  assert.ok(median < 0.1, `landmark deviation median ${median}`);
});
