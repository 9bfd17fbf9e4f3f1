/**
 * The face-api tiny face detector and 68-point landmark converters against face-api itself: the converted
 * models, run with onnxruntime-node on CPU, must reproduce the raw outputs face-api's own TF.js nets gave on the
 * same inputs (test/fixtures/faceapi/detector-landmarks.json, made once by scripts/make-faceapi-fixtures.mjs
 * from the inputs of descriptors.json).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import * as ort from 'onnxruntime-node';
import { convertFaceApiLandmarks } from '../../src/models/convert/faceapi-landmarks';
import { convertFaceApiTinyDetector } from '../../src/models/convert/faceapi-tiny-detector';
import { projectRoot } from '../../src/util/paths';

const TOLERANCE = 1e-4;
const MODEL_DIR = path.join(path.dirname(require.resolve('@vladmandic/face-api/package.json')), 'model');
const FIXTURES = path.join(projectRoot(), 'test', 'fixtures', 'faceapi');

interface NetFixture {
  detectorCut: number;
  landmarkCut: number;
  samples: { id: string; tinyDetectorGrid: { shape: number[]; nhwc: number[] }; landmarks68: number[]; landmarks68Tiny: number[] }[];
}

const inputs = new Map<string, Uint8Array>(
  (JSON.parse(readFileSync(path.join(FIXTURES, 'descriptors.json'), 'utf8')) as { samples: { id: string; input: string }[] }).samples.map((s) => [
    s.id,
    new Uint8Array(gunzipSync(Buffer.from(s.input, 'base64'))),
  ]),
);
const fixture = JSON.parse(readFileSync(path.join(FIXTURES, 'detector-landmarks.json'), 'utf8')) as NetFixture;
const SOURCE_SIZE = 150;

/** The top-left n x n of a 150x150 RGB HWC input as a BGR NCHW float32 blob (what the graphs take). */
function bgrBlob(rgb: Uint8Array, n: number): Float32Array {
  const out = new Float32Array(3 * n * n);
  for (let y = 0; y < n; y++) {
    for (let x = 0; x < n; x++) {
      for (let c = 0; c < 3; c++) out[(2 - c) * n * n + y * n + x] = rgb[(y * SOURCE_SIZE + x) * 3 + c];
    }
  }
  return out;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

const session = (bytes: Uint8Array) => ort.InferenceSession.create(bytes, { intraOpNumThreads: 1 });

describe('face-api tiny face detector and landmark nets → ONNX', () => {
  test(`tiny face detector: raw grid within ${TOLERANCE} of face-api's on ${fixture.samples.length} inputs`, async () => {
    const s = await session(convertFaceApiTinyDetector(MODEL_DIR));
    const n = fixture.detectorCut;
    let worst = 0;
    for (const sample of fixture.samples) {
      const out = (await s.run({ input: new ort.Tensor('float32', bgrBlob(inputs.get(sample.id)!, n), [1, 3, n, n]) })).grid;
      const [, gh, gw, ch] = sample.tinyDetectorGrid.shape;
      assert.deepEqual(out.dims, [1, ch, gh, gw], sample.id);
      const data = out.data as Float32Array;
      const nhwc = new Float32Array(gh * gw * ch);
      for (let c = 0; c < ch; c++) for (let p = 0; p < gh * gw; p++) nhwc[p * ch + c] = data[c * gh * gw + p];
      worst = Math.max(worst, maxAbsDiff(nhwc, sample.tinyDetectorGrid.nhwc));
    }
    console.log(`# tiny face detector: max abs diff vs face-api ${worst.toExponential(2)}`);
    assert.ok(worst <= TOLERANCE, `max abs diff ${worst}`);
  });

  for (const variant of ['full', 'tiny'] as const) {
    test(`68-point landmarks (${variant}): within ${TOLERANCE} of face-api's, one batch of ${fixture.samples.length}`, async () => {
      const s = await session(convertFaceApiLandmarks(MODEL_DIR, variant));
      const n = fixture.landmarkCut;
      const batch = new Float32Array(fixture.samples.length * 3 * n * n);
      fixture.samples.forEach((sample, i) => batch.set(bgrBlob(inputs.get(sample.id)!, n), i * 3 * n * n));
      const out = (await s.run({ input: new ort.Tensor('float32', batch, [fixture.samples.length, 3, n, n]) })).landmarks;
      assert.deepEqual(out.dims, [fixture.samples.length, 136]);
      const expected = fixture.samples.flatMap((x) => (variant === 'full' ? x.landmarks68 : x.landmarks68Tiny));
      const worst = maxAbsDiff(out.data as Float32Array, expected);
      console.log(`# landmarks ${variant}: max abs diff vs face-api ${worst.toExponential(2)}`);
      assert.ok(worst <= TOLERANCE, `max abs diff ${worst}`);
    });
  }

  test('a model file with a weight missing or misshapen is refused by name', () => {
    // The converters read the manifest's weights by name and shape; a wrong directory names the missing file.
    assert.throws(() => convertFaceApiTinyDetector(path.join(MODEL_DIR, 'no-such-dir')), /tiny_face_detector_model/);
  });
});
