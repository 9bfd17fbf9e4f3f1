import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeYunet, padToDivisor, parseYunetOptions, suppressYunet, yunetPriors } from '../../src/detect/yunet';

test('priors: counts match the network outputs OpenCV reports for these input sizes', () => {
  // 120x160 is the graph's own input (1076 rows in loc/conf/iou); 416x640 gave 15260 rows.
  assert.equal(yunetPriors(160, 120).length / 4, 1076);
  assert.equal(yunetPriors(640, 416).length / 4, 15260);
  // First prior: stride 8, cell (0, 0), min size 10, normalised.
  const p = yunetPriors(160, 120);
  const expected = [4 / 160, 4 / 120, 10 / 160, 10 / 120];
  expected.forEach((v, k) => assert.ok(Math.abs(p[k] - v) < 1e-6, `prior 0 value ${k}: ${p[k]} vs ${v}`));
});

test('padToDivisor: multiples of 32, never below 64', () => {
  assert.deepEqual([1, 32, 33, 64, 65, 640, 427].map((n) => padToDivisor(n)), [64, 64, 64, 64, 96, 640, 448]);
});

test('decodeYunet: zero deltas give the prior box; variances 0.1 (centre, width) and 0.2 (height); score = sqrt(cls * iou)', () => {
  const w = 64;
  const h = 64;
  const priors = yunetPriors(w, h);
  const n = priors.length / 4;
  const loc = new Float32Array(n * 14);
  const conf = new Float32Array(n * 2);
  const iou = new Float32Array(n);
  const i = 5; // some prior
  conf[i * 2 + 1] = 0.81;
  iou[i] = 1.4; // clamped to 1
  loc.set([1, -1, Math.log(2) / 0.1, Math.log(2) / 0.2, 0, 0, 1, 0, 0, 1, -1, 0, 0, -1], i * 14);
  const faces = decodeYunet({ loc, conf, iou }, priors, w, h, 0.5);
  assert.equal(faces.length, 1);
  const f = faces[0];
  const [px, py, pw, ph] = [...priors.subarray(i * 4, i * 4 + 4)];
  const close = (a: number, b: number) => assert.ok(Math.abs(a - b) < 1e-4, `${a} vs ${b}`);
  close(f.score, 0.9);
  const cx = (px + 0.1 * pw) * w;
  const cy = (py - 0.1 * ph) * h;
  close(f.box.width, 2 * pw * w);
  close(f.box.height, 2 * ph * h);
  close(f.box.x, cx - f.box.width / 2);
  close(f.box.y, cy - f.box.height / 2);
  close(f.landmarks[0].x, px * w);
  close(f.landmarks[1].x, (px + 0.1 * pw) * w);
  close(f.landmarks[2].y, (py + 0.1 * ph) * h);
  close(f.landmarks[3].x, (px - 0.1 * pw) * w);
  close(f.landmarks[4].y, (py - 0.1 * ph) * h);
  assert.throws(() => decodeYunet({ loc, conf, iou: new Float32Array(3) }, priors, w, h, 0.5), /do not match/);
});

test('suppressYunet keeps the best of overlapping faces and at most topK', () => {
  const face = (x: number, score: number) => ({
    box: { x, y: 0, width: 10, height: 10 },
    score,
    landmarks: Array.from({ length: 5 }, () => ({ x: 0, y: 0 })) as never,
  });
  const kept = suppressYunet([face(0, 0.7), face(1, 0.9), face(50, 0.8)], 0.3, 5000);
  assert.deepEqual(kept.map((f) => f.score), [0.9, 0.8]);
  assert.deepEqual(suppressYunet([face(0, 0.7), face(50, 0.9), face(100, 0.8)], 0.3, 2).map((f) => f.score), [0.9, 0.8]);
  assert.equal(parseYunetOptions({ scoreThreshold: 0.6 }, { scoreThreshold: 0.8 }).scoreThreshold, 0.8);
  assert.throws(() => parseYunetOptions({ topK: 0 }), /invalid YuNet options: topK/);
});
