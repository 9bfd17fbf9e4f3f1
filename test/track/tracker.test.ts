import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { FaceDetection, Landmarks5 } from '../../src/detect/types';
import { assign } from '../../src/track/assignment';
import { FaceTracker, iou, landmarkDistance } from '../../src/track/tracker';

/** A frontal face of size s with its top-left corner at (x, y). */
function faceAt(x: number, y: number, s = 80, score = 0.99): FaceDetection {
  const lm: Landmarks5 = [
    { x: x + 0.3 * s, y: y + 0.4 * s },
    { x: x + 0.7 * s, y: y + 0.4 * s },
    { x: x + 0.5 * s, y: y + 0.6 * s },
    { x: x + 0.35 * s, y: y + 0.8 * s },
    { x: x + 0.65 * s, y: y + 0.8 * s },
  ];
  return { box: { x, y, width: s, height: s }, score, landmarks: lm };
}

test('a face moving across the frame keeps one track id', () => {
  const tr = new FaceTracker('door');
  const ids = new Set<string>();
  let last;
  for (let f = 0; f < 40; f++) {
    // 12 px per frame at 10 fps, slowly growing, with some jitter.
    const u = tr.update([faceAt(20 + 12 * f + (f % 3) - 1, 100 + 2 * Math.sin(f), 80 + f)], f * 100);
    assert.equal(u.tracks.length, 1);
    ids.add(u.tracks[0].id);
    last = u.tracks[0];
    if (f === 0) assert.deepEqual(u.created, ['door-1']);
    else assert.deepEqual(u.created, []);
  }
  assert.deepEqual([...ids], ['door-1']);
  assert.equal(last!.hits, 40);
  assert.equal(last!.firstSeen, 0);
  assert.equal(last!.lastSeen, 3900);
  assert.equal(last!.camera, 'door');
});

test('fast motion with no box overlap between frames is followed by prediction', () => {
  // Speeding up to 60 px per frame for a 50 px face: consecutive boxes then do not overlap at
  // all. (A track's first step has no velocity yet, so it must overlap.)
  const withPrediction = new FaceTracker('c');
  const without = new FaceTracker('c', { predict: false });
  const a = new Set<string>();
  const b = new Set<string>();
  const xs = [10, 30, 70, 130];
  while (xs.length < 12) xs.push(xs[xs.length - 1] + 60);
  for (let f = 0; f < xs.length; f++) {
    const d = [faceAt(xs[f], 50, 50)];
    a.add(withPrediction.update(d, f * 200).tracks[0].id);
    b.add(without.update(d, f * 200).tracks[0].id);
  }
  assert.equal(a.size, 1, 'constant-velocity prediction keeps the id');
  assert.ok(b.size > 1, 'without prediction the track breaks (the test is not vacuous)');
});

test('two faces are kept apart, even when they pass close to each other', () => {
  const tr = new FaceTracker('hall');
  const left = new Set<string>();
  const right = new Set<string>();
  for (let f = 0; f < 30; f++) {
    const t = f * 100;
    // Walking towards each other; 70 px faces 40 px apart vertically: their boxes overlap as they cross.
    const a = faceAt(50 + 10 * f, 100, 70);
    const b = faceAt(400 - 10 * f, 140, 70);
    // Detection order changes from frame to frame.
    const dets = f % 2 ? [a, b] : [b, a];
    const u = tr.update(dets, t);
    assert.equal(u.tracks.length, 2);
    const ia = u.tracks[dets.indexOf(a)].id;
    const ib = u.tracks[dets.indexOf(b)].id;
    left.add(ia);
    right.add(ib);
    assert.notEqual(ia, ib);
  }
  assert.equal(left.size, 1);
  assert.equal(right.size, 1);
  assert.equal(tr.tracks().length, 2);
});

test('tracks expire after maxAgeMs without a detection; a returning face gets a new id', () => {
  const tr = new FaceTracker('gate', { maxAgeMs: 500 });
  const first = tr.update([faceAt(100, 100)], 0).tracks[0].id;
  // Missed detections for 400 ms: still the same track.
  assert.deepEqual(tr.update([], 200).expired, []);
  assert.equal(tr.update([faceAt(102, 100)], 400).tracks[0].id, first);
  // Gone for 600 ms: expired.
  const u = tr.update([], 1001);
  assert.equal(u.expired.length, 1);
  assert.equal(u.expired[0].id, first);
  assert.equal(u.expired[0].lastSeen, 400);
  assert.equal(u.expired[0].hits, 2);
  assert.equal(tr.tracks().length, 0);
  const again = tr.update([faceAt(100, 100)], 1100);
  assert.notEqual(again.tracks[0].id, first);
  assert.equal(again.tracks[0].id, 'gate-2');
  // expire() ends tracks when frames stop arriving.
  assert.equal(tr.expire(1500).length, 0);
  assert.equal(tr.expire(1601).length, 1);
});

test('a new face far away starts its own track; a much larger face is not merged', () => {
  const tr = new FaceTracker('x');
  const a = tr.update([faceAt(100, 100, 60)], 0).tracks[0].id;
  const u = tr.update([faceAt(100, 100, 60), faceAt(400, 300, 60)], 100);
  assert.equal(u.tracks[0].id, a);
  assert.equal(u.created.length, 1);
  const tr2 = new FaceTracker('y');
  const small = tr2.update([faceAt(100, 100, 40)], 0).tracks[0].id;
  assert.notEqual(tr2.update([faceAt(80, 80, 130)], 100).tracks[0].id, small);
});

test('time going backwards is treated as no time elapsed', () => {
  const tr = new FaceTracker('z', { maxAgeMs: 100 });
  const id = tr.update([faceAt(0, 0)], 1000).tracks[0].id;
  assert.equal(tr.update([faceAt(1, 0)], 500).tracks[0].id, id);
  assert.throws(() => tr.update([], NaN), /finite/);
  assert.throws(() => new FaceTracker(''), /camera name is required/);
});

test('returned tracks are copies', () => {
  const tr = new FaceTracker('c');
  const t = tr.update([faceAt(0, 0)], 0).tracks[0];
  t.box.x = 999;
  t.hits = 42;
  assert.equal(tr.tracks()[0].box.x, 0);
  assert.equal(tr.tracks()[0].hits, 1);
});

test('iou and landmark distance', () => {
  assert.equal(iou({ x: 0, y: 0, width: 10, height: 10 }, { x: 0, y: 0, width: 10, height: 10 }), 1);
  assert.equal(iou({ x: 0, y: 0, width: 10, height: 10 }, { x: 20, y: 0, width: 10, height: 10 }), 0);
  assert.ok(Math.abs(iou({ x: 0, y: 0, width: 10, height: 10 }, { x: 5, y: 0, width: 10, height: 10 }) - 50 / 150) < 1e-12);
  const a = faceAt(0, 0, 100);
  const b = faceAt(10, 0, 100);
  assert.ok(Math.abs(landmarkDistance(a.landmarks, b.landmarks, a.box, b.box) - 0.1) < 1e-12);
});

test('assignment is optimal, handles rectangles and forbidden pairs', () => {
  // Greedy would take (0,0)=1 then (1,1)=10: total 11; optimal is (0,1)+(1,0) = 2 + 2.
  assert.deepEqual(assign([[1, 2], [2, 10]]), [1, 0]);
  assert.deepEqual(assign([[5], [1], [3]]), [-1, 0, -1]);
  assert.deepEqual(assign([[4, 1, 3]]), [1]);
  assert.deepEqual(assign([[1e6, 1e6], [1e6, 0.5]]), [-1, 1]);
  // Max allowed pairs first: (0,0) is cheapest but would leave row 1 with only a forbidden pair.
  assert.deepEqual(assign([[0.1, 0.9], [0.2, 1e6]]), [1, 0]);
  assert.deepEqual(assign([]), []);
  assert.deepEqual(assign([[], []]), [-1, -1]);
});
