import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  decodeFaceCrop,
  decodeFaceEmbedding,
  encodeFaceCrop,
  encodeFaceEmbedding,
  type FaceContext,
} from '../../src/schema';
import { f32, FAKE_JPEG, faceCrop, faceEmbedding } from './fixtures';

/** The context as it must come back: floats rounded to float32, everything else exact. */
function expectedContext(m: FaceContext): FaceContext {
  const d = m.detection;
  const q = m.quality;
  const out: FaceContext = {
    camera: m.camera,
    track: { ...m.track },
    frame: { ...m.frame },
    detection: {
      box: { x: f32(d.box.x), y: f32(d.box.y), width: f32(d.box.width), height: f32(d.box.height) },
      score: f32(d.score),
      landmarks: d.landmarks.map((p) => ({ x: f32(p.x), y: f32(p.y) })) as FaceContext['detection']['landmarks'],
    },
    quality: {
      eyeDistance: f32(q.eyeDistance),
      faceSize: f32(q.faceSize),
      blur: f32(q.blur),
      yaw: f32(q.yaw),
      pitch: f32(q.pitch),
      roll: f32(q.roll),
      score: f32(q.score),
    },
    model: m.model,
    stages: m.stages.map((s) => ({ ...s })),
  };
  return out;
}

function contextOf(m: FaceContext): FaceContext {
  return { camera: m.camera, track: m.track, frame: m.frame, detection: m.detection, quality: m.quality, model: m.model, stages: m.stages };
}

test('FaceCrop round-trips: context exact (floats as float32), crop and JPEG bytes identical', () => {
  const m = faceCrop(3);
  const bytes = encodeFaceCrop(m);
  const d = decodeFaceCrop(bytes);
  assert.deepStrictEqual(contextOf(d), expectedContext(m));
  assert.notEqual(d.detection.box.x, m.detection.box.x, 'fixture values are not exact float32s, so rounding is exercised');
  assert.equal(d.crop.width, 150);
  assert.equal(d.crop.height, 150);
  assert.ok(Buffer.from(d.crop.data).equals(Buffer.from(m.crop.data)), 'crop bytes preserved');
  assert.ok(d.faceJpeg && Buffer.from(d.faceJpeg).equals(Buffer.from(FAKE_JPEG)), 'jpeg bytes preserved');
  // Zero-copy: the crop is a view into the record.
  assert.equal(d.crop.data.buffer, bytes.buffer);
});

test('FaceCrop without a face JPEG decodes without one', () => {
  const d = decodeFaceCrop(encodeFaceCrop(faceCrop(0, { jpeg: false })));
  assert.equal(d.faceJpeg, undefined);
  assert.equal('faceJpeg' in d, false);
});

test('a 150x150x3 crop record is the raw 67,500 crop bytes plus a small overhead (no base64)', () => {
  const noJpeg = encodeFaceCrop(faceCrop(0, { jpeg: false })).byteLength;
  const withJpeg = encodeFaceCrop(faceCrop(0)).byteLength;
  assert.ok(noJpeg > 67_500 && noJpeg < 67_500 + 300, `record ${noJpeg} bytes`);
  assert.ok(withJpeg - noJpeg >= FAKE_JPEG.byteLength && withJpeg - noJpeg <= FAKE_JPEG.byteLength + 3, `jpeg adds ${withJpeg - noJpeg}`);
  assert.ok(noJpeg < (67_500 * 4) / 3, 'not base64-inflated');
});

test('FaceEmbedding round-trips: context exact, Float32Array identical, size < 1 KB for 128-d', () => {
  const m = faceEmbedding(5);
  const bytes = encodeFaceEmbedding(faceEmbedding(5, { jpeg: false }));
  assert.ok(bytes.byteLength < 1024, `128-d record without jpeg: ${bytes.byteLength} bytes`);
  assert.ok(bytes.byteLength > 512, 'holds the 512 embedding bytes');
  const d = decodeFaceEmbedding(encodeFaceEmbedding(m));
  assert.ok(d.embedding instanceof Float32Array);
  assert.deepStrictEqual(d.embedding, m.embedding);
  const { embedding: _e, ...rest } = d;
  assert.deepStrictEqual(contextOf(rest), expectedContext(m));
  assert.ok(d.faceJpeg && Buffer.from(d.faceJpeg).equals(Buffer.from(FAKE_JPEG)));
  // 512-d embeddings fit too.
  const big = faceEmbedding(1, { dim: 512 });
  assert.deepStrictEqual(decodeFaceEmbedding(encodeFaceEmbedding(big)).embedding, big.embedding);
});

test('a decoded embedding is a view into the record when 4-byte aligned, an equal copy otherwise', () => {
  const m = faceEmbedding(2);
  const bytes = encodeFaceEmbedding(m);
  let views = 0;
  for (let shift = 0; shift < 4; shift++) {
    const ab = new ArrayBuffer(bytes.byteLength + 4);
    const placed = new Uint8Array(ab, shift, bytes.byteLength);
    placed.set(bytes);
    const d = decodeFaceEmbedding(placed);
    assert.deepStrictEqual(d.embedding, m.embedding, `shift ${shift}`);
    if (d.embedding.buffer === ab) views++;
  }
  assert.equal(views, 1, 'exactly one of four placements is 4-byte aligned');
});

test('encoding does not change the input record', () => {
  const m = faceEmbedding(1);
  const before = JSON.stringify({ ...m, embedding: Array.from(m.embedding) });
  encodeFaceEmbedding(m);
  assert.equal(JSON.stringify({ ...m, embedding: Array.from(m.embedding) }), before);
});

test('copy: true gives decoded bytes that do not share the record buffer', () => {
  const bytes = encodeFaceCrop(faceCrop(1));
  const d = decodeFaceCrop(bytes, { copy: true });
  assert.notEqual(d.crop.data.buffer, bytes.buffer);
  assert.notEqual(d.faceJpeg?.buffer, bytes.buffer);
  assert.ok(Buffer.from(d.crop.data).equals(Buffer.from(faceCrop(1).crop.data)));
  const m = faceEmbedding(3);
  const eb = encodeFaceEmbedding(m);
  for (let shift = 0; shift < 4; shift++) {
    const placed = new Uint8Array(new ArrayBuffer(eb.byteLength + 4), shift, eb.byteLength);
    placed.set(eb);
    const e = decodeFaceEmbedding(placed, { copy: true });
    assert.notEqual(e.embedding.buffer, placed.buffer);
    assert.notEqual(e.faceJpeg?.buffer, placed.buffer);
    assert.deepStrictEqual(e.embedding, m.embedding);
    placed.fill(0);
    assert.deepStrictEqual(e.embedding, m.embedding, 'unchanged when the record buffer is reused');
  }
});
