import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildAlert } from '../../src/alerts/alert';
import type { MatchResult } from '../../src/match/matcher';
import {
  alertInputFromEmbedding,
  decodeAlertRecord,
  decodeFaceCrop,
  decodeFaceEmbedding,
  encodeAlertRecord,
  encodeFaceCrop,
  encodeFaceEmbedding,
  faceCropFromAligned,
  faceEmbeddingFromCrop,
  SchemaError,
  Stage,
  stampStage,
  trackFaceFromEmbedding,
} from '../../src/schema';
import { alignedFace, f32, FAKE_JPEG, randomEmbedding, stages, T0 } from './fixtures';

const accepted: MatchResult = { accepted: true, reason: 'accepted', identity: 'person-7', svmScore: 0.91, distance: 0.37 };

test('the embedded-mode types convert through every hop to the alert', () => {
  const face = alignedFace(1);
  const track = { id: 'lobby-12', camera: 'lobby', firstSeen: T0 - 1500 };
  const frame = { seq: 881, ts: T0, width: 640, height: 360 };
  const crop = faceCropFromAligned(face, track, frame, { model: 'faceapi-resnet128', faceJpeg: FAKE_JPEG, stages: stages() });
  assert.equal(crop.crop, face.crop, 'no copy of the crop');
  const atEmbed = decodeFaceCrop(encodeFaceCrop(stampStage(crop, Stage.ingestPublish, T0 + 40)));
  assert.equal(atEmbed.camera, 'lobby');
  assert.deepStrictEqual(atEmbed.track, { id: 'lobby-12', firstSeenMs: T0 - 1500 });
  assert.deepStrictEqual(atEmbed.frame, { seq: 881, tsMs: T0, width: 640, height: 360 });

  const emb = faceEmbeddingFromCrop(atEmbed, randomEmbedding(128, 9));
  assert.equal('crop' in emb, false);
  assert.equal(emb.model, 'faceapi-resnet128');
  const embBytes = encodeFaceEmbedding(emb);
  const atMatch = decodeFaceEmbedding(embBytes);
  assert.deepStrictEqual(atMatch.embedding, randomEmbedding(128, 9));

  const picture = trackFaceFromEmbedding(atMatch);
  assert.ok(picture);
  assert.deepStrictEqual(picture.box, atMatch.detection.box);
  assert.equal(picture.ts, T0);
  assert.equal(picture.quality, f32(face.quality.score));
  assert.ok(Buffer.isBuffer(picture.jpeg) && picture.jpeg.equals(Buffer.from(FAKE_JPEG)));
  assert.equal(atMatch.faceJpeg?.buffer, embBytes.buffer, 'decoded: a view');

  const input = alertInputFromEmbedding(atMatch, { identity: { id: 'person-7', name: 'P. Seven' }, watchlists: ['vip'], result: accepted, lastSeen: T0 + 300 });
  const a = buildAlert(input, new Date(T0 + 500));
  assert.equal(a.camera, 'lobby');
  assert.equal(a.trackId, 'lobby-12');
  assert.equal(a.firstSeen, new Date(T0 - 1500).toISOString());
  assert.equal(a.lastSeen, new Date(T0 + 300).toISOString());
  assert.equal(a.scores.detector, f32(face.detection.score));
  assert.deepStrictEqual(a.frameSize, { width: 640, height: 360 });
  const atAlerts = decodeAlertRecord(encodeAlertRecord({ alert: a, stages: stampStage(atMatch, Stage.matchPublish, T0 + 510).stages }));
  assert.deepStrictEqual(atAlerts.alert, a);
  assert.equal(atAlerts.stages.at(-1)?.stage, 'match.publish');
  embBytes.fill(0);
  assert.ok(picture.jpeg.equals(Buffer.from(FAKE_JPEG)), 'the picture kept for the track is a copy: unchanged when the record buffer is reused');
});

test('alert input needs a picture and an acceptance', () => {
  const crop = faceCropFromAligned(alignedFace(0), { id: 't-1', camera: 'lobby', firstSeen: T0 }, { seq: 1, ts: T0, width: 640, height: 360 }, { model: 'm' });
  const emb = faceEmbeddingFromCrop(crop, randomEmbedding(128, 1));
  assert.equal(trackFaceFromEmbedding(emb), undefined);
  const decision = { identity: { id: 'p', name: 'p' }, watchlists: ['w'], result: accepted };
  assert.throws(() => alertInputFromEmbedding(emb, decision), (e: unknown) => e instanceof SchemaError && /^face_jpeg: missing/.test(e.reason));
  const withPicture = { ...emb, faceJpeg: FAKE_JPEG };
  const rejected: MatchResult = { accepted: false, reason: 'distance-too-large', svmScore: 0.5, distance: 0.9 };
  assert.throws(() => alertInputFromEmbedding(withPicture, { ...decision, result: rejected }), /not an acceptance \(distance-too-large\)/);
  const input = alertInputFromEmbedding(withPicture, decision);
  assert.equal(input.firstSeen, T0);
  assert.equal(input.lastSeen, T0);
});
