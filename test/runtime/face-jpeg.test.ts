import assert from 'node:assert/strict';
import { test } from 'node:test';
import { faceJpeg } from '../../src/runtime/face-jpeg';
import { cv } from '../../src/util/cv';

/** 64x48 frame: left half black, right half white. */
function frame() {
  const width = 64;
  const height = 48;
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) for (let x = 32; x < width; x++) data.fill(255, (y * width + x) * 3, (y * width + x) * 3 + 3);
  return { width, height, data };
}

test('faceJpeg encodes exactly the face region plus margin, clipped to the frame', () => {
  const inside = cv().imdecode(faceJpeg(frame(), { x: 40, y: 10, width: 16, height: 20 }, 0, 100));
  assert.deepEqual([inside.cols, inside.rows], [16, 20]);
  assert.ok(inside.mean().x > 250, 'the white half only');
  const left = cv().imdecode(faceJpeg(frame(), { x: 2, y: 2, width: 20, height: 20 }, 0, 100));
  assert.ok(left.mean().x < 5, 'the black half only');
  const edge = cv().imdecode(faceJpeg(frame(), { x: 50, y: 40, width: 30, height: 30 }));
  assert.deepEqual([edge.cols, edge.rows], [22, 16], 'margin clipped at the right and bottom edges');
});
