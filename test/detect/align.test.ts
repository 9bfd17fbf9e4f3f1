import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  alignFace,
  alignmentMatrix,
  applyMatrix,
  composeMatrix,
  invertMatrix,
  Matrix2x3,
  similarityMatrix,
} from '../../src/detect/align';
import type { FaceDetection, Landmarks5, Point } from '../../src/detect/types';
import type { Frame } from '../../src/image/frame';
import type { EmbedderDescriptor } from '../../src/models/descriptor';

/** A minimal embedder descriptor: only input size and template matter to alignment. */
function embedder(width: number, height: number, template: [number, number][]): EmbedderDescriptor {
  return {
    kind: 'embedder',
    name: 'test',
    description: '',
    file: 'x.onnx',
    sha256: '0'.repeat(64),
    obtain: '',
    input: { width, height, layout: 'NCHW', colorOrder: 'RGB', mean: [0, 0, 0], std: [1, 1, 1] },
    output: { size: 4 },
    distance: 'cosine',
    l2normalize: true,
    flipAugment: false,
    alignment: { template: template as EmbedderDescriptor['alignment']['template'] },
  };
}

const ARCFACE: [number, number][] = [
  [38.2946, 51.6963],
  [73.5318, 51.5014],
  [56.0252, 71.7366],
  [41.5493, 92.3655],
  [70.7299, 92.2041],
];

/** Similarity: rotate by `deg`, scale by `s`, then translate. */
function similarity(deg: number, s: number, tx: number, ty: number): Matrix2x3 {
  const r = (deg * Math.PI) / 180;
  return [s * Math.cos(r), -s * Math.sin(r), tx, s * Math.sin(r), s * Math.cos(r), ty];
}

const close = (a: number, b: number, eps: number, what = '') =>
  assert.ok(Math.abs(a - b) <= eps, `${what} ${a} vs ${b} (eps ${eps})`);

test('similarityMatrix recovers a known similarity exactly and fits noisy points in least squares', () => {
  const m = similarity(23, 1.7, 40, -12);
  const src: Point[] = ARCFACE.map(([x, y]) => ({ x, y }));
  const dst = src.map((p) => applyMatrix(m, p));
  const fit = similarityMatrix(src, dst);
  fit.forEach((v, i) => close(v, m[i], 1e-9, `m[${i}]`));
  // Inverse and composition.
  const id = composeMatrix(invertMatrix(m), m);
  [1, 0, 0, 0, 1, 0].forEach((v, i) => close(id[i], v, 1e-12, `id[${i}]`));
  // With noise, OpenCV's fit over all 5 points is the same least-squares solution.
  const noisy = dst.map((p, i) => ({ x: p.x + [0.8, -0.5, 0.3, -0.9, 0.4][i], y: p.y + [-0.4, 0.7, -0.6, 0.2, 0.5][i] }));
  const ls = similarityMatrix(src, noisy);
  const ocv = alignmentMatrix(src, noisy);
  ocv.forEach((v, i) => close(v, ls[i], 1e-4, `opencv vs closed form m[${i}]`));
  assert.throws(() => similarityMatrix([src[0], src[0]], [dst[0], dst[1]]), /coincide/);
});

/**
 * A frame with a bright 3x3 dot at each landmark, the landmarks being the template carried into
 * the frame by `crop -> frame` similarity `m`; after alignment each dot must sit on its template
 * point in the crop.
 */
function dotFrame(m: Matrix2x3, width: number, height: number): { frame: Frame; det: FaceDetection } {
  const data = new Uint8Array(width * height * 3).fill(40);
  const landmarks = ARCFACE.map(([x, y]) => applyMatrix(m, { x, y })) as Landmarks5;
  const r = Math.max(1, Math.round(Math.hypot(m[0], m[3]))); // dots of ~2-3 crop pixels
  for (const p of landmarks) {
    const cx = Math.round(p.x);
    const cy = Math.round(p.y);
    for (let y = cy - r; y <= cy + r; y++) {
      for (let x = cx - r; x <= cx + r; x++) {
        if (x >= 0 && y >= 0 && x < width && y < height) data.fill(250, (y * width + x) * 3, (y * width + x) * 3 + 3);
      }
    }
  }
  return { frame: { width, height, data }, det: { box: { x: 0, y: 0, width: 1, height: 1 }, score: 1, landmarks } };
}

/** Brightness-weighted centroid of the bright pixels within 4 px of `p` in channel 0 of a crop. */
function centroid(crop: { width: number; data: Uint8Array }, p: Point): Point {
  let sx = 0;
  let sy = 0;
  let sw = 0;
  for (let y = Math.round(p.y) - 4; y <= Math.round(p.y) + 4; y++) {
    for (let x = Math.round(p.x) - 4; x <= Math.round(p.x) + 4; x++) {
      const v = crop.data[(y * crop.width + x) * 3] - 60;
      if (v > 0) {
        sx += v * x;
        sy += v * y;
        sw += v;
      }
    }
  }
  assert.ok(sw > 0, `no bright dot near (${p.x.toFixed(1)}, ${p.y.toFixed(1)})`);
  return { x: sx / sw, y: sy / sw };
}

for (const [name, m] of [
  ['identity', similarity(0, 1, 0, 0)],
  ['rotated, enlarged, shifted', similarity(-17, 2.5, 300, 120)],
  ['large face (shrunk with INTER_AREA before the warp)', similarity(9, 4.5, 200, 60)],
] as [string, Matrix2x3][]) {
  test(`alignFace puts the landmarks on the template: ${name}`, () => {
    const { frame, det } = dotFrame(m, 900, 700);
    const crop = alignFace(frame, det, embedder(112, 112, ARCFACE));
    assert.equal(crop.width, 112);
    assert.equal(crop.height, 112);
    assert.equal(crop.data.length, 112 * 112 * 3);
    ARCFACE.forEach(([x, y], i) => {
      const c = centroid(crop, { x, y });
      close(c.x, x, 0.6, `landmark ${i} x`);
      close(c.y, y, 0.6, `landmark ${i} y`);
    });
  });
}

test('alignFace is pixel exact for an integer translation and fills outside the frame with black', () => {
  // Frame pixel (x, y) has B = x, G = y, R = 7: the crop must be the frame shifted by (30, 20).
  const width = 200;
  const height = 150;
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) data.set([x, y, 7], (y * width + x) * 3);
  }
  const landmarks = ARCFACE.map(([x, y]) => ({ x: x + 30, y: y + 20 })) as Landmarks5;
  const det = { box: { x: 30, y: 20, width: 112, height: 112 }, score: 1, landmarks };
  const crop = alignFace({ width, height, data }, det, embedder(112, 112, ARCFACE));
  for (let y = 0; y < 112; y++) {
    for (let x = 0; x < 112; x++) {
      const i = (y * 112 + x) * 3;
      assert.deepEqual([...crop.data.subarray(i, i + 3)], [x + 30, y + 20, 7], `pixel (${x}, ${y})`);
    }
  }
  // Near the frame's corner the crop reaches outside the frame: those pixels are black.
  const edge = ARCFACE.map(([x, y]) => ({ x: x - 60, y: y - 60 })) as Landmarks5;
  const c2 = alignFace({ width, height, data }, { ...det, landmarks: edge }, embedder(112, 112, ARCFACE));
  assert.deepEqual([...c2.data.subarray(0, 3)], [0, 0, 0]);
  const inside = (111 * 112 + 111) * 3; // crop (111, 111) = frame (51, 51)
  assert.deepEqual([...c2.data.subarray(inside, inside + 3)], [51, 51, 7]);
});
