import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { iou } from '../../src/detect/nms';
import { decodeTinyYolo, fivePointsFrom68, landmarkSquare, parseTinyYoloOptions, TINY_YOLO_CELL } from '../../src/detect/tiny-yolo';
import { groundTruth, openTestDetector, readFrame, SAMPLE_DIR } from './helpers';

const ANCHORS: [number, number][] = [
  [1, 2],
  [3, 4],
];

test('decodeTinyYolo: sigmoid objectness, centre in its cell, size from the anchor, in input pixels', () => {
  // 2 anchors x 5 channels x 2 rows x 3 cols, NCHW; one confident cell: anchor 1, row 1, col 2.
  const rows = 2;
  const cols = 3;
  const plane = rows * cols;
  const grid = new Float32Array(2 * 5 * plane).fill(-10);
  const p = 1 * cols + 2;
  const base = 1 * 5 * plane;
  grid[base + p] = 0; // tx: sigmoid 0.5
  grid[base + plane + p] = 0; // ty
  grid[base + 2 * plane + p] = Math.log(2); // tw: 2 x anchor width
  grid[base + 3 * plane + p] = 0; // th: 1 x anchor height
  grid[base + 4 * plane + p] = 2; // objectness: sigmoid(2) = 0.881
  const out = decodeTinyYolo(grid, rows, cols, ANCHORS, 0.5);
  assert.equal(out.length, 1);
  const [d] = out;
  assert.ok(Math.abs(d.score - 1 / (1 + Math.exp(-2))) < 1e-9);
  const cx = 2.5 * TINY_YOLO_CELL;
  const cy = 1.5 * TINY_YOLO_CELL;
  const w = 2 * 3 * TINY_YOLO_CELL;
  const h = 4 * TINY_YOLO_CELL;
  const want = { x: cx - w / 2, y: cy - h / 2, width: w, height: h };
  for (const k of ['x', 'y', 'width', 'height'] as const) assert.ok(Math.abs(d.box[k] - want[k]) < 1e-4, `${k}: ${d.box[k]} vs ${want[k]}`);
  assert.equal(decodeTinyYolo(grid, rows, cols, ANCHORS, 0.9).length, 0, 'below the threshold');
  assert.throws(() => decodeTinyYolo(grid.subarray(1), rows, cols, ANCHORS, 0.5), /expected 2 anchors x 5 x 2x3/);
});

test('landmarkSquare and fivePointsFrom68: eye centres, nose tip and mouth corners, in image pixels', () => {
  const sq = landmarkSquare({ x: 10, y: 20, width: 40, height: 60 });
  assert.deepEqual(sq, { x: 0, y: 20, side: 60 });
  const pts = new Float32Array(136);
  const set = (i: number, x: number, y: number) => {
    pts[2 * i] = x;
    pts[2 * i + 1] = y;
  };
  for (let i = 36; i < 42; i++) set(i, 0.3, 0.4); // right eye of the subject (image left)
  for (let i = 42; i < 48; i++) set(i, 0.7, 0.4);
  set(30, 0.5, 0.6);
  set(48, 0.35, 0.8);
  set(54, 0.65, 0.8);
  const five = fivePointsFrom68(pts, 0, sq);
  const near = (a: number, b: number) => Math.abs(a - b) < 1e-4;
  [[18, 44], [42, 44], [30, 56], [21, 68], [39, 68]].forEach(([x, y], i) => assert.ok(near(five[i].x, x) && near(five[i].y, y), `point ${i}: ${JSON.stringify(five[i])}`));
});

test('options: anchors are required; a bad threshold names the key', () => {
  assert.throws(() => parseTinyYoloOptions({}), /anchors/);
  assert.throws(() => parseTinyYoloOptions({ anchors: ANCHORS, scoreThreshold: 2 }), /scoreThreshold/);
  assert.equal(parseTinyYoloOptions({ anchors: ANCHORS }).nmsThreshold, 0.4);
});

test('faceapi-tiny on the demo photos: landmarks fall inside their boxes, eyes above the mouth; a region finds its face again', async (t) => {
  const detector = openTestDetector(t, 'faceapi-tiny');
  if (!detector) return;
  let faces = 0;
  for (const img of groundTruth()) {
    const frame = readFrame(path.join(SAMPLE_DIR, img.file));
    const found = await detector.detect(frame);
    for (const f of found) {
      faces += 1;
      const b = f.box;
      for (const p of f.landmarks) assert.ok(p.x >= b.x - 0.1 * b.width && p.x <= b.x + 1.1 * b.width && p.y >= b.y - 0.1 * b.height && p.y <= b.y + 1.1 * b.height, `${img.file}: landmark outside its box`);
      assert.ok(f.landmarks[0].x < f.landmarks[1].x, 'image-left eye first');
      assert.ok(Math.max(f.landmarks[0].y, f.landmarks[1].y) < Math.min(f.landmarks[3].y, f.landmarks[4].y), 'eyes above the mouth');
    }
    if (found.length > 0) {
      const again = await detector.detectIn!(frame, [{ box: { x: found[0].box.x - found[0].box.width / 2, y: found[0].box.y - found[0].box.height / 2, width: found[0].box.width * 2, height: found[0].box.height * 2 } }]);
      assert.ok(again.some((g) => iou(g.box, found[0].box) > 0.5), `${img.file}: the best face found again in its region`);
    }
  }
  assert.ok(faces >= 21, `${faces} faces`);
});
