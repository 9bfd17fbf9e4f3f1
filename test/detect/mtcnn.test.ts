import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { frameToMat, matToFrame } from '../../src/detect/cvmat';
import { MtcnnCascade, parseMtcnnOptions, scalePyramid } from '../../src/detect/mtcnn';
import { cv } from '../../src/util/cv';
import { projectRoot } from '../../src/util/paths';
import { resolveDetector, SAMPLE_DIR, samplesOrSkip } from './helpers';

test('scalePyramid follows the reference (12 / minFaceSize, times scaleFactor, while the short side >= 12)', () => {
  const s = scalePyramid(640, 427, 20, 0.709);
  assert.equal(s[0], 0.6);
  assert.equal(s.length, 9); // 427 * 0.6 * 0.709^k >= 12 for k = 0..8
  s.forEach((v, k) => assert.ok(Math.abs(v - 0.6 * 0.709 ** k) < 1e-12));
  assert.deepEqual(scalePyramid(10, 10, 20, 0.709), []);
  assert.deepEqual(scalePyramid(20, 500, 20, 0.709), [0.6]); // 20 * 0.6 = 12, then 8.5
});

test('parseMtcnnOptions applies defaults and overrides and rejects bad values', () => {
  assert.deepEqual(parseMtcnnOptions({}), {
    minFaceSize: 20,
    thresholds: [0.6, 0.7, 0.7],
    scaleFactor: 0.709,
    nmsThresholds: [0.5, 0.7, 0.7],
  });
  const o = parseMtcnnOptions({ minFaceSize: 30, thresholds: [0.5, 0.6, 0.6] }, { minFaceSize: 40, scaleFactor: undefined });
  assert.equal(o.minFaceSize, 40);
  assert.deepEqual(o.thresholds, [0.5, 0.6, 0.6]);
  assert.equal(o.scaleFactor, 0.709);
  assert.throws(() => parseMtcnnOptions({ scaleFactor: 1.2 }), /invalid MTCNN options: scaleFactor/);
  assert.throws(() => parseMtcnnOptions({ thresholds: [0.6, 0.7] }), /invalid MTCNN options: thresholds/);
  assert.throws(() => parseMtcnnOptions({ minFaceSise: 20 }), /invalid MTCNN options: .*minFaceSise/);
});

interface RefFace {
  box: [number, number, number, number];
  score: number;
  keypoints: [number, number][];
}

test('the port reproduces the reference Python implementation on the six photos', async (t) => {
  const skip = samplesOrSkip();
  if (skip) return t.skip(skip);
  const resolved = resolveDetector('mtcnn');
  if (typeof resolved === 'string') return t.skip(resolved);
  const ref = JSON.parse(
    readFileSync(path.join(projectRoot(), 'test', 'fixtures', 'detect', 'mtcnn-reference.json'), 'utf8'),
  ) as { options: Record<string, unknown>; images: { file: string; width: number; faces: RefFace[] }[] };
  const cascade = new MtcnnCascade(
    { pnet: resolved.paths.pnet, rnet: resolved.paths.rnet, onet: resolved.paths.onet },
    parseMtcnnOptions(ref.options),
  );
  const c = cv();
  let compared = 0;
  for (const img of ref.images) {
    const full = c.imread(path.join(SAMPLE_DIR, img.file));
    const mat = full.resize(Math.round((full.rows * img.width) / full.cols), img.width, 0, 0, c.INTER_AREA);
    // Through a Frame and back, as the product does.
    const faces = await cascade.detect(frameToMat(matToFrame(mat)));
    assert.equal(faces.length, img.faces.length, `${img.file}: ${faces.length} faces, reference ${img.faces.length}`);
    for (const r of img.faces) {
      // The reference reports truncated 1-based corners: x = trunc(x1), width = trunc(x2 - x).
      const f = faces.find((d) => Math.abs(d.box.x + 1 - r.box[0]) <= 1.5 && Math.abs(d.box.y + 1 - r.box[1]) <= 1.5);
      assert.ok(f, `${img.file}: no face at reference box ${r.box}`);
      assert.ok(Math.abs(f.box.width - 1 - r.box[2]) <= 1.5, `${img.file}: width ${f.box.width} vs ${r.box[2]}`);
      assert.ok(Math.abs(f.box.height - 1 - r.box[3]) <= 1.5, `${img.file}: height ${f.box.height} vs ${r.box[3]}`);
      assert.ok(Math.abs(f.score - r.score) < 1e-3, `${img.file}: score ${f.score} vs ${r.score}`);
      r.keypoints.forEach(([x, y], k) => {
        assert.ok(Math.abs(f.landmarks[k].x - x) < 1.5 && Math.abs(f.landmarks[k].y - y) < 1.5, `${img.file}: landmark ${k}`);
      });
      compared++;
    }
  }
  assert.equal(compared, 21);
});
