import assert from 'node:assert/strict';
import { test } from 'node:test';
import { matchBoxes } from '../../src/detect/match-boxes';
import { area, clipBox, iou, nms, overlap, squareCorners, toBox, toCorners } from '../../src/detect/nms';

const near = (a: number, b: number, eps = 1e-9) => assert.ok(Math.abs(a - b) <= eps, `${a} != ${b}`);

test('overlap: IoU and min modes, exclusive and inclusive areas', () => {
  const a = { x1: 0, y1: 0, x2: 10, y2: 10 };
  const b = { x1: 5, y1: 0, x2: 15, y2: 10 };
  near(overlap(a, b), 50 / 150);
  near(overlap(a, b, { mode: 'min' }), 50 / 100);
  // MTCNN convention: corners inclusive, so a spans 11 px, the intersection 6 px.
  near(overlap(a, b, { inclusive: true }), 66 / (121 + 121 - 66));
  near(area(a, true), 121);
  // Containment: IoU is the area ratio, "min" is 1.
  const inner = { x1: 2, y1: 2, x2: 6, y2: 6 };
  near(overlap(a, inner), 16 / 100);
  near(overlap(a, inner, { mode: 'min' }), 1);
  // Disjoint and degenerate boxes.
  assert.equal(overlap(a, { x1: 20, y1: 20, x2: 30, y2: 30 }), 0);
  assert.equal(overlap(a, { x1: 3, y1: 3, x2: 3, y2: 8 }), 0);
});

test('iou on Box, conversions, clip and square', () => {
  near(iou({ x: 0, y: 0, width: 10, height: 10 }, { x: 0, y: 0, width: 10, height: 10 }), 1);
  near(iou({ x: 0, y: 0, width: 10, height: 10 }, { x: 0, y: 5, width: 10, height: 10 }), 50 / 150);
  assert.deepEqual(toBox(toCorners({ x: 1, y: 2, width: 3, height: 4 })), { x: 1, y: 2, width: 3, height: 4 });
  assert.deepEqual(clipBox({ x: -5, y: 90, width: 20, height: 20 }, 100, 100), { x: 0, y: 90, width: 15, height: 10 });
  assert.deepEqual(clipBox({ x: 200, y: 0, width: 20, height: 20 }, 100, 100).width, 0);
  assert.deepEqual(squareCorners({ x1: 10, y1: 0, x2: 20, y2: 40 }), { x1: -5, y1: 0, x2: 35, y2: 40 });
});

test('nms keeps the best of each overlapping group, best first', () => {
  const boxes = [
    { x1: 0, y1: 0, x2: 10, y2: 10 }, // 0
    { x1: 1, y1: 1, x2: 11, y2: 11 }, // 1: IoU with 0 = 81/119 = 0.68
    { x1: 50, y1: 50, x2: 60, y2: 60 }, // 2: separate
    { x1: 2, y1: 0, x2: 12, y2: 10 }, // 3: IoU with 0 = 0.667
  ];
  const scores = [0.8, 0.9, 0.5, 0.7];
  assert.deepEqual(nms(boxes, scores, 0.5), [1, 2]);
  // A threshold above the overlaps keeps everything, by descending score.
  assert.deepEqual(nms(boxes, scores, 0.95), [1, 0, 3, 2]);
  // Suppression needs overlap strictly greater than the threshold.
  assert.deepEqual(nms([boxes[0], { x1: 5, y1: 0, x2: 15, y2: 10 }], [1, 0.5], 50 / 150), [0, 1]);
  // Ties keep the lower index first.
  assert.deepEqual(nms([boxes[0], boxes[0]], [0.5, 0.5], 0.5), [0]);
  assert.deepEqual(nms([], [], 0.5), []);
  assert.throws(() => nms(boxes, [1], 0.5), /4 boxes but 1 scores/);
});

test('nms "min" mode removes a box inside a better one that IoU keeps', () => {
  const big = { x1: 0, y1: 0, x2: 100, y2: 100 };
  const small = { x1: 10, y1: 10, x2: 30, y2: 30 }; // IoU 0.04, min-overlap 1
  assert.deepEqual(nms([big, small], [0.9, 0.8], 0.7), [0, 1]);
  assert.deepEqual(nms([big, small], [0.9, 0.8], 0.7, { mode: 'min' }), [0]);
});

test('matchBoxes counts found, false and missed boxes greedily', () => {
  const truth = [
    { x: 0, y: 0, width: 10, height: 10 },
    { x: 100, y: 100, width: 10, height: 10 },
  ];
  const dets = [
    { x: 1, y: 1, width: 10, height: 10 }, // matches truth 0
    { x: 0, y: 0, width: 10, height: 10 }, // duplicate of truth 0: false positive
    { x: 300, y: 0, width: 10, height: 10 }, // nothing there
  ];
  assert.deepEqual(matchBoxes(dets, truth, 0.4), { found: 1, falsePositives: 2, missed: [1] });
  assert.deepEqual(matchBoxes([], truth), { found: 0, falsePositives: 0, missed: [0, 1] });
});
