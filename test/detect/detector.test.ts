import assert from 'node:assert/strict';
import path from 'node:path';
import { after, test } from 'node:test';
import { frameToMat, matToFrame } from '../../src/detect/cvmat';
import { createDetector as create, FaceDetector } from '../../src/detect/detector';
import { matchBoxes } from '../../src/detect/match-boxes';
import { iou } from '../../src/detect/nms';
import type { FaceDetection } from '../../src/detect/types';
import type { Frame } from '../../src/image/frame';
import { cv } from '../../src/util/cv';
import { groundTruth, readFrame, resolveDetector, SAMPLE_DIR, samplesOrSkip } from './helpers';

const TOTAL_FACES = 22;

/** Every detector a test opens, closed (and its network thread ended) when the file's tests are done. */
const opened: FaceDetector[] = [];
const createDetector = (...args: Parameters<typeof create>): FaceDetector => {
  const d = create(...args);
  opened.push(d);
  return d;
};
after(() => Promise.all(opened.map((d) => d.close?.())));

async function scoreOnSamples(detector: FaceDetector) {
  let found = 0;
  let falsePositives = 0;
  const perImage: string[] = [];
  for (const img of groundTruth()) {
    const frame = readFrame(path.join(SAMPLE_DIR, img.file));
    assert.equal(frame.width, img.width, `${img.file} size differs from the ground truth's`);
    const dets = await detector.detect(frame);
    for (const d of dets) {
      assert.ok(d.score > 0 && d.score <= 1, `score ${d.score}`);
      assert.equal(d.landmarks.length, 5);
    }
    const m = matchBoxes(
      dets.map((d) => d.box),
      img.faces,
      0.4,
    );
    found += m.found;
    falsePositives += m.falsePositives;
    perImage.push(`${img.file}: ${m.found}/${img.faces.length} found, ${m.falsePositives} false`);
  }
  return { found, falsePositives, report: perImage.join('; ') };
}

test('ground truth holds 3, 3, 3, 4, 5 and 4 faces', () => {
  assert.deepEqual(
    groundTruth().map((g) => g.faces.length),
    [3, 3, 3, 4, 5, 4],
  );
});

for (const name of ['mtcnn', 'yunet', 'faceapi-tiny']) {
  test(`${name} on the six face-api photos at 640 px: >= 21 of 22 faces, <= 1 false detection`, async (t) => {
    const skip = samplesOrSkip();
    if (skip) return t.skip(skip);
    const resolved = resolveDetector(name);
    if (typeof resolved === 'string') return t.skip(resolved);
    const detector = createDetector(resolved);
    const r = await scoreOnSamples(detector);
    t.diagnostic(`${name}: ${r.found}/${TOTAL_FACES} found, ${r.falsePositives} false (${r.report})`);
    assert.ok(r.found >= 21, `found ${r.found}/${TOTAL_FACES}: ${r.report}`);
    assert.ok(r.falsePositives <= 1, `${r.falsePositives} false detections: ${r.report}`);
  });
}

/**
 * Every detection of `a` has a counterpart in `b` with box edges within `boxPx` pixels and
 * landmarks within `landmarkPx`; returns the largest deviations seen.
 */
function assertSameFaces(a: FaceDetection[], b: FaceDetection[], boxPx: number, landmarkPx: number, what: string) {
  assert.equal(a.length, b.length, `${what}: ${a.length} vs ${b.length} faces`);
  let maxBox = 0;
  let maxLandmark = 0;
  const edges = (f: FaceDetection) => [f.box.x, f.box.y, f.box.x + f.box.width, f.box.y + f.box.height];
  for (const d of a) {
    const m = b.reduce((best, x) => (iou(x.box, d.box) > iou(best.box, d.box) ? x : best));
    edges(d).forEach((v, i) => {
      maxBox = Math.max(maxBox, Math.abs(v - edges(m)[i]));
      assert.ok(Math.abs(v - edges(m)[i]) <= boxPx, `${what}: box edge ${i} ${v} vs ${edges(m)[i]}`);
    });
    d.landmarks.forEach((p, i) => {
      const q = m.landmarks[i];
      maxLandmark = Math.max(maxLandmark, Math.hypot(p.x - q.x, p.y - q.y));
      assert.ok(Math.hypot(p.x - q.x, p.y - q.y) <= landmarkPx, `${what}: landmark ${i} (${p.x},${p.y}) vs (${q.x},${q.y})`);
    });
  }
  return { maxBox, maxLandmark };
}

test('a 1920x1080 frame is analysed at 640 px and its results map back to frame coordinates', async (t) => {
  const skip = samplesOrSkip();
  if (skip) return t.skip(skip);
  const resolved = resolveDetector('mtcnn');
  if (typeof resolved === 'string') return t.skip(resolved);
  const c = cv();
  // 640x360 native frame (top of sample1 at 640 px wide, all three faces), and the same upscaled 3x.
  const full = c.imread(path.join(SAMPLE_DIR, 'sample1.jpg'));
  const small = full.resize(Math.round((full.rows * 640) / full.cols), 640, 0, 0, c.INTER_AREA);
  const native = small.getRegion(new c.Rect(0, 0, 640, 360)).copy();
  const detector = createDetector(resolved);
  const atNative = await detector.detect(matToFrame(native));
  assert.equal(atNative.length, 3, 'three faces in the native frame');
  const toNative = (dets: FaceDetection[]) =>
    dets.map((d) => ({
      ...d,
      box: { x: d.box.x / 3, y: d.box.y / 3, width: d.box.width / 3, height: d.box.height / 3 },
      landmarks: d.landmarks.map((p) => ({ x: (p.x + 0.5) / 3 - 0.5, y: (p.y + 0.5) / 3 - 0.5 })) as FaceDetection['landmarks'],
    }));

  // Nearest-neighbour upscale: the 640-px analysis image is then exactly the native frame, so the
  // results must be the native ones mapped to 1080p, to rounding.
  const blocky = await detector.detect(matToFrame(native.resize(1080, 1920, 0, 0, c.INTER_NEAREST)));
  assertSameFaces(toNative(blocky), atNative, 1e-6, 1e-6, '1080p (nearest) vs native');
  assert.ok(blocky.some((d) => d.box.x + d.box.width > 640), 'boxes beyond x = 640 exist in the 1920-px frame');
  blocky.forEach((d, i) => assert.ok(Math.abs(d.score - atNative[i].score) < 1e-6));

  // A smooth (cubic) upscale resamples differently: still the same faces within a few pixels (at
  // 640 px). MTCNN's cascade is jumpy under such small changes: the reference Python code moves
  // the tilted face's box by 5 px and its mouth corner by 7 px on the same pair of images.
  const smooth = await detector.detect(matToFrame(native.resize(1080, 1920, 0, 0, c.INTER_CUBIC)));
  const dev = assertSameFaces(toNative(smooth), atNative, 8, 10, '1080p (cubic) vs native');
  t.diagnostic(`cubic upscale: box edges within ${dev.maxBox.toFixed(1)} px, landmarks within ${dev.maxLandmark.toFixed(1)} px (640-px scale)`);
});

test('the analysis width is honoured: a 640-px analysis of a 1280-px frame differs from a 1280-px one only by scale', async (t) => {
  const skip = samplesOrSkip();
  if (skip) return t.skip(skip);
  const resolved = resolveDetector('yunet');
  if (typeof resolved === 'string') return t.skip(resolved);
  const frame = readFrame(path.join(SAMPLE_DIR, 'sample6.jpg'));
  const wide = await createDetector(resolved, { maxWidth: 1280 }).detect(frame);
  const narrow = await createDetector(resolved, { maxWidth: 640 }).detect(frame);
  assert.equal(narrow.length, 4);
  assert.equal(wide.length, 4);
  for (const d of narrow) assert.ok(wide.some((w) => iou(w.box, d.box) > 0.6), 'same faces at both analysis sizes');
});

test('tiny, odd and empty-looking frames return [] without throwing', async (t) => {
  const skipped: string[] = [];
  for (const name of ['mtcnn', 'yunet', 'faceapi-tiny']) {
    const resolved = resolveDetector(name);
    if (typeof resolved === 'string') {
      skipped.push(resolved);
      t.diagnostic(`skipped ${name}: ${resolved}`);
      continue;
    }
    const detector = createDetector(resolved);
    const blank = (w: number, h: number, v = 128): Frame => ({ width: w, height: h, data: new Uint8Array(w * h * 3).fill(v) });
    assert.deepEqual(await detector.detect(blank(10, 10)), [], `${name} 10x10`);
    assert.deepEqual(await detector.detect(blank(1, 1)), [], `${name} 1x1`);
    assert.deepEqual(await detector.detect(blank(13, 700)), [], `${name} 13x700`);
    assert.deepEqual(await detector.detect(blank(37, 29, 0)), [], `${name} 37x29`);
    assert.deepEqual(await detector.detect(blank(641, 481)), [], `${name} 641x481 uniform`);
    await assert.rejects(detector.detect({ width: 10, height: 10, data: new Uint8Array(5) }), /width\*height\*3/);
  }
  if (skipped.length === 3) t.skip(skipped.join(' | '));
});

test('concurrent detect() calls on one detector give the same results as sequential ones', async (t) => {
  const skip = samplesOrSkip();
  if (skip) return t.skip(skip);
  const resolved = resolveDetector('mtcnn');
  if (typeof resolved === 'string') return t.skip(resolved);
  const detector = createDetector(resolved);
  const frames = [1, 3, 5].map((i) => readFrame(path.join(SAMPLE_DIR, `sample${i}.jpg`)));
  const sequential: FaceDetection[][] = [];
  for (const f of frames) sequential.push(await detector.detect(f));
  const parallel = await Promise.all(frames.map((f) => detector.detect(f)));
  assert.deepEqual(parallel, sequential);
  await detector.close?.();
  await assert.rejects(detector.detect(frames[0]), /closed/);
});

test('networks on the detector\'s worker thread and on the calling thread give the same detections', async (t) => {
  const skip = samplesOrSkip();
  if (skip) return t.skip(skip);
  const frames = [2, 6].map((i) => readFrame(path.join(SAMPLE_DIR, `sample${i}.jpg`)));
  let compared = 0;
  for (const name of ['mtcnn', 'yunet', 'faceapi-tiny']) {
    const resolved = resolveDetector(name);
    if (typeof resolved === 'string') {
      t.diagnostic(`skipped ${name}: ${resolved}`);
      continue;
    }
    const inWorker = createDetector(resolved);
    const inCaller = createDetector(resolved, { thread: 'caller' });
    await inWorker.ready?.();
    for (const f of frames) {
      const a = await inWorker.detect(f);
      assert.ok(a.length >= 2, `${name}: faces found`);
      assert.deepEqual(a, await inCaller.detect(f), `${name}: same detections`);
      compared++;
    }
    await inWorker.close?.();
    await inCaller.close?.();
    await assert.rejects(inWorker.detect(frames[0]), /closed/);
  }
  if (compared === 0) t.skip('no detector files');
});

test('frameToMat and matToFrame round-trip', () => {
  const data = new Uint8Array(4 * 3 * 3).map((_, i) => i);
  const back = matToFrame(frameToMat({ width: 4, height: 3, data }));
  assert.deepEqual([back.width, back.height], [4, 3]);
  assert.deepEqual([...back.data], [...data]);
});
