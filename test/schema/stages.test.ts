import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  decodeFaceEmbedding,
  decodeRecordHeader,
  elapsedMs,
  encodeAlertRecord,
  encodeFaceCrop,
  encodeFaceEmbedding,
  MAX_STAGES,
  recordKey,
  Stage,
  stageDurations,
  stampStage,
} from '../../src/schema';
import { alert, faceCrop, faceEmbedding, T0 } from './fixtures';

test('stampStage appends to a copy and the stamps survive each hop in order', () => {
  const crop = faceCrop();
  const published = stampStage(crop, Stage.ingestPublish, T0 + 40);
  assert.equal(crop.stages.length, 3, 'the input is not changed');
  assert.equal(published.crop, crop.crop, 'a shallow copy: the crop is shared');
  let emb = { ...faceEmbedding(), stages: published.stages };
  emb = stampStage(emb, Stage.embedReceive, T0 + 52);
  emb = stampStage(emb, Stage.embedInfer, T0 + 95);
  emb = stampStage(emb, Stage.embedPublish, T0 + 97);
  const d = decodeFaceEmbedding(encodeFaceEmbedding(emb));
  assert.deepStrictEqual(
    d.stages.map((s) => s.stage),
    ['ingest.decode', 'ingest.detect', 'ingest.align', 'ingest.publish', 'embed.receive', 'embed.infer', 'embed.publish'],
  );
  assert.deepStrictEqual(stageDurations(d.stages), [
    { stage: 'ingest.detect', ms: 31 },
    { stage: 'ingest.align', ms: 3 },
    { stage: 'ingest.publish', ms: 6 },
    { stage: 'embed.receive', ms: 12 },
    { stage: 'embed.infer', ms: 43 },
    { stage: 'embed.publish', ms: 2 },
  ]);
  assert.equal(elapsedMs(d.stages, T0 + 200), 200);
  assert.equal(elapsedMs(d.stages, T0 + 200, d.frame.tsMs - 5), 205);
  assert.ok(Number.isNaN(elapsedMs([], T0)));
});

test('stampStage refuses bad labels, times and runaway stamp lists', () => {
  const crop = faceCrop();
  assert.throws(() => stampStage(crop, 'Embed Stage', T0), RangeError);
  assert.throws(() => stampStage(crop, 'embed.infer', 0), RangeError);
  assert.throws(() => stampStage(crop, 'embed.infer', 1.5), RangeError);
  let m = { ...crop, stages: [] as typeof crop.stages };
  for (let i = 0; i < MAX_STAGES; i++) m = stampStage(m, 'loop', T0 + i);
  assert.throws(() => stampStage(m, 'loop', T0), /already has 64 stamps/);
  assert.ok(encodeFaceCrop(m).byteLength > 0, 'MAX_STAGES stamps still encode');
});

test('the record header (camera, track, stages) reads from any face or alert record', () => {
  for (const bytes of [encodeFaceCrop(faceCrop(2)), encodeFaceEmbedding(faceEmbedding(2)), encodeAlertRecord({ alert: alert(2), stages: faceCrop().stages })]) {
    const h = decodeRecordHeader(bytes);
    assert.equal(h.camera, 'front-door');
    assert.equal(h.trackId, 'front-door-3');
    assert.deepStrictEqual(h.stages, faceCrop().stages);
  }
  assert.equal(decodeRecordHeader(encodeFaceEmbedding(faceEmbedding())).type, 'FaceEmbedding');
});

test('records are keyed by camera name', () => {
  assert.equal(recordKey(faceCrop()), 'front-door');
  assert.equal(recordKey(faceEmbedding()), 'front-door');
  assert.equal(recordKey({ alert: { ...alert(), camera: 'lobby' }, stages: [] }), 'lobby');
});
