import assert from 'node:assert/strict';
import { test } from 'node:test';
import { inputDims, toTensor } from '../../src/embed/preprocess';
import { descriptor } from './helpers';

// 2x2 BGR crop: pixel (x,y) → [B, G, R]
//   (0,0) = [1, 2, 3]   (1,0) = [4, 5, 6]
//   (0,1) = [7, 8, 9]   (1,1) = [10, 11, 12]
const crop = { width: 2, height: 2, data: Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]) };
// Powers of two keep every (x - mean) / std exact, so the expectations are exact.
const norm = { mean: [1, 2, 3] as [number, number, number], std: [2, 4, 8] as [number, number, number] };

test('NCHW RGB: channel planes in R,G,B order, (x - mean) / std per channel', () => {
  const d = descriptor({ input: { layout: 'NCHW', colorOrder: 'RGB', ...norm } });
  const t = toTensor([crop], d);
  // R = 3,6,9,12 → (R-1)/2; G = 2,5,8,11 → (G-2)/4; B = 1,4,7,10 → (B-3)/8
  assert.deepEqual([...t], [1, 2.5, 4, 5.5, 0, 0.75, 1.5, 2.25, -0.25, 0.125, 0.5, 0.875]);
  assert.deepEqual(inputDims(d, 1), [1, 3, 2, 2]);
});

test('NHWC RGB: interleaved R,G,B per pixel', () => {
  const d = descriptor({ input: { layout: 'NHWC', colorOrder: 'RGB', ...norm } });
  assert.deepEqual([...toTensor([crop], d)], [1, 0, -0.25, 2.5, 0.75, 0.125, 4, 1.5, 0.5, 5.5, 2.25, 0.875]);
  assert.deepEqual(inputDims(d, 3), [3, 2, 2, 3]);
});

test('NHWC BGR: source order kept, mean/std apply in B,G,R order', () => {
  const d = descriptor({ input: { layout: 'NHWC', colorOrder: 'BGR', ...norm } });
  // ch0 = (B-1)/2, ch1 = (G-2)/4, ch2 = (R-3)/8
  assert.deepEqual([...toTensor([crop], d)], [0, 0, 0, 1.5, 0.75, 0.375, 3, 1.5, 0.75, 4.5, 2.25, 1.125]);
});

test('flip mirrors each row', () => {
  const d = descriptor({ input: { layout: 'NHWC', colorOrder: 'BGR', mean: [0, 0, 0], std: [1, 1, 1] } });
  assert.deepEqual([...toTensor([crop], d, { flip: true })], [4, 5, 6, 1, 2, 3, 10, 11, 12, 7, 8, 9]);
  const c = descriptor({ input: { layout: 'NCHW', colorOrder: 'BGR', mean: [0, 0, 0], std: [1, 1, 1] } });
  assert.deepEqual([...toTensor([crop], c, { flip: true })], [4, 1, 10, 7, 5, 2, 11, 8, 6, 3, 12, 9]);
});

test('a batch places crop i at row i', () => {
  const d = descriptor({ input: { layout: 'NCHW', colorOrder: 'BGR', mean: [0, 0, 0], std: [1, 1, 1] } });
  const other = { width: 2, height: 2, data: crop.data.map((v) => 100 + v) };
  const t = toTensor([crop, other], d);
  assert.equal(t.length, 24);
  assert.deepEqual([...t.subarray(0, 12)], [1, 4, 7, 10, 2, 5, 8, 11, 3, 6, 9, 12]);
  assert.deepEqual([...t.subarray(12)], [101, 104, 107, 110, 102, 105, 108, 111, 103, 106, 109, 112]);
});

test('non-dyadic mean/std give the float32 of (x - mean) / std for every byte value', () => {
  const mean: [number, number, number] = [123.675, 116.28, 103.53];
  const std: [number, number, number] = [58.395, 57.12, 57.375];
  const d = descriptor({ input: { width: 256, height: 1, layout: 'NCHW', colorOrder: 'RGB', mean, std } });
  const data = new Uint8Array(256 * 3);
  for (let v = 0; v < 256; v++) data.set([v, 255 - v, (v * 7) & 255], v * 3); // B, G, R
  const t = toTensor([{ width: 256, height: 1, data }], d);
  for (let v = 0; v < 256; v++) {
    const [b, g, r] = [v, 255 - v, (v * 7) & 255];
    assert.equal(t[v], Math.fround((r - mean[0]) / std[0]));
    assert.equal(t[256 + v], Math.fround((g - mean[1]) / std[1]));
    assert.equal(t[512 + v], Math.fround((b - mean[2]) / std[2]));
  }
});

test('a crop of the wrong size is refused with its index and both sizes', () => {
  const d = descriptor({ name: 'tiny', input: { width: 2, height: 2 } });
  const wrong = { width: 3, height: 2, data: new Uint8Array(18) };
  assert.throws(() => toTensor([crop, wrong], d), (e: Error) => {
    assert.ok(e instanceof RangeError);
    assert.match(e.message, /crop 1 is 3x2/);
    assert.match(e.message, /"tiny" expects 2x2/);
    return true;
  });
  const short = { width: 2, height: 2, data: new Uint8Array(11) };
  assert.throws(() => toTensor([short], d), /crop 0 data holds 11 bytes, expected 2x2x3 = 12/);
});
