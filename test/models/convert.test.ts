/**
 * The face-api → ONNX converter against face-api itself: the converted model, run with
 * onnxruntime-node on CPU, must reproduce the descriptors face-api's own TF.js FaceRecognitionNet
 * computed for the same 150x150 inputs (test/fixtures/faceapi, made by
 * scripts/make-faceapi-fixtures.mjs) to 1e-4, in single runs and in one batch; the conversion must be
 * deterministic and match the sha256 pinned in models/descriptors/faceapi-resnet128.json.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import * as ort from 'onnxruntime-node';
import {
  convertFaceApiRecognition,
  FACEAPI_EMBEDDING_SIZE,
  FACEAPI_INPUT_NAME,
  FACEAPI_INPUT_SIZE,
  FACEAPI_OUTPUT_NAME,
  writeFaceApiRecognitionOnnx,
} from '../../src/models/convert/faceapi-recognition';
import { EmbedderDescriptor, parseDescriptor } from '../../src/models/descriptor';
import { projectRoot } from '../../src/util/paths';

const TOLERANCE = 1e-4;
const FACEAPI_MODEL_DIR = path.join(path.dirname(require.resolve('@vladmandic/face-api/package.json')), 'model');
const FIXTURE_FILE = path.join(projectRoot(), 'test', 'fixtures', 'faceapi', 'descriptors.json');
const DESCRIPTOR_FILE = path.join(projectRoot(), 'models', 'descriptors', 'faceapi-resnet128.json');

interface Fixture {
  faceApiVersion: string;
  tfjsVersion: string;
  backend: string;
  input: { width: number; height: number; channels: number; layout: string; colorOrder: string };
  samples: { id: string; input: string; descriptor: number[] }[];
}

interface Sample {
  id: string;
  rgb: Uint8Array;
  expected: number[];
}

function loadFixture(): { fixture: Fixture; samples: Sample[] } {
  const fixture = JSON.parse(readFileSync(FIXTURE_FILE, 'utf8')) as Fixture;
  const samples = fixture.samples.map((s) => ({
    id: s.id,
    rgb: new Uint8Array(gunzipSync(Buffer.from(s.input, 'base64'))),
    expected: s.descriptor,
  }));
  return { fixture, samples };
}

function embedderDescriptor(): EmbedderDescriptor {
  const d = parseDescriptor(JSON.parse(readFileSync(DESCRIPTOR_FILE, 'utf8')), DESCRIPTOR_FILE);
  assert.equal(d.kind, 'embedder');
  return d as EmbedderDescriptor;
}

/** (x - mean[c]) / std[c] per the descriptor, into NHWC float32; the fixtures hold RGB HWC bytes. */
function normalise(rgb: Uint8Array, d: EmbedderDescriptor, out: Float32Array, offset: number): void {
  assert.equal(d.input.layout, 'NHWC', 'this test feeds NHWC');
  const order = d.input.colorOrder === 'RGB' ? [0, 1, 2] : [2, 1, 0];
  const pixels = d.input.width * d.input.height;
  for (let p = 0; p < pixels; p++) {
    for (let c = 0; c < 3; c++) {
      out[offset + p * 3 + c] = (rgb[p * 3 + order[c]] - d.input.mean[c]) / d.input.std[c];
    }
  }
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

describe('face-api FaceRecognitionNet → ONNX', () => {
  let dir: string;
  let modelFile: string;
  let converted: { sha256: string; bytes: number };
  let session: ort.InferenceSession;
  const { fixture, samples } = loadFixture();
  const desc = embedderDescriptor();
  const size = desc.input.width * desc.input.height * 3;

  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'facestream-convert-'));
    modelFile = path.join(dir, desc.file);
    const t0 = performance.now();
    converted = await writeFaceApiRecognitionOnnx(FACEAPI_MODEL_DIR, modelFile);
    const ms = performance.now() - t0;
    console.log(`# converted in ${ms.toFixed(0)} ms: ${converted.bytes} bytes, sha256 ${converted.sha256}`);
    assert.ok(ms < 10_000, `conversion took ${ms.toFixed(0)} ms, expected well under 10 s`);
    session = await ort.InferenceSession.create(modelFile, { intraOpNumThreads: 2, executionProviders: ['cpu'] });
  });

  after(async () => {
    await session?.release();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('fixtures and descriptor agree with the graph', () => {
    assert.ok(samples.length >= 5, 'expected real faces and random images in the fixture');
    assert.equal(fixture.input.width, FACEAPI_INPUT_SIZE);
    assert.equal(fixture.input.colorOrder, 'RGB');
    for (const s of samples) {
      assert.equal(s.rgb.length, size, `${s.id}: input bytes`);
      assert.equal(s.expected.length, FACEAPI_EMBEDDING_SIZE, `${s.id}: descriptor length`);
    }
    assert.equal(desc.input.width, FACEAPI_INPUT_SIZE);
    assert.equal(desc.input.height, FACEAPI_INPUT_SIZE);
    assert.equal(desc.output.size, FACEAPI_EMBEDDING_SIZE);
    assert.deepEqual(session.inputNames, [desc.input.name ?? FACEAPI_INPUT_NAME]);
    assert.deepEqual(session.outputNames, [desc.output.name ?? FACEAPI_OUTPUT_NAME]);
  });

  test(`one face at a time: max |onnx - face-api| <= ${TOLERANCE}`, async () => {
    let worst = 0;
    for (const s of samples) {
      const x = new Float32Array(size);
      normalise(s.rgb, desc, x, 0);
      const out = await session.run({ [FACEAPI_INPUT_NAME]: new ort.Tensor('float32', x, [1, desc.input.height, desc.input.width, 3]) });
      const e = out[FACEAPI_OUTPUT_NAME];
      assert.deepEqual(e.dims, [1, FACEAPI_EMBEDDING_SIZE]);
      const d = maxAbsDiff(e.data as Float32Array, s.expected);
      console.log(`# ${s.id}: max abs diff ${d.toExponential(2)}`);
      worst = Math.max(worst, d);
      assert.ok(d <= TOLERANCE, `${s.id}: max abs diff ${d} > ${TOLERANCE}`);
    }
    console.log(`# max abs diff vs face-api ${fixture.faceApiVersion} (tfjs ${fixture.tfjsVersion}, ${fixture.backend}): ${worst.toExponential(2)}`);
  });

  test('dynamic batch: one run of N>1 gives the same rows', async () => {
    const n = samples.length;
    const x = new Float32Array(n * size);
    samples.forEach((s, i) => normalise(s.rgb, desc, x, i * size));
    const out = await session.run({ [FACEAPI_INPUT_NAME]: new ort.Tensor('float32', x, [n, desc.input.height, desc.input.width, 3]) });
    const e = out[FACEAPI_OUTPUT_NAME];
    assert.deepEqual(e.dims, [n, FACEAPI_EMBEDDING_SIZE]);
    const data = e.data as Float32Array;
    let worst = 0;
    for (const [i, s] of samples.entries()) {
      const row = data.subarray(i * FACEAPI_EMBEDDING_SIZE, (i + 1) * FACEAPI_EMBEDDING_SIZE);
      const d = maxAbsDiff(row, s.expected);
      worst = Math.max(worst, d);
      assert.ok(d <= TOLERANCE, `batch row ${i} (${s.id}): max abs diff ${d} > ${TOLERANCE}`);
    }
    // Rows are distinct (a batch that repeated row 0 would pass the checks above only by accident).
    assert.ok(maxAbsDiff(data.subarray(0, FACEAPI_EMBEDDING_SIZE), data.subarray(FACEAPI_EMBEDDING_SIZE, 2 * FACEAPI_EMBEDDING_SIZE)) > 1e-2);
    console.log(`# batch of ${n}: max abs diff ${worst.toExponential(2)}`);
  });

  test('conversion is deterministic and matches the sha256 pinned in the descriptor', () => {
    const again = sha256(convertFaceApiRecognition(FACEAPI_MODEL_DIR));
    assert.equal(again, converted.sha256, 'two conversions gave different bytes');
    assert.equal(
      desc.sha256,
      converted.sha256,
      `models/descriptors/faceapi-resnet128.json pins ${desc.sha256}, the converter now writes ${converted.sha256}`,
    );
  });
});
