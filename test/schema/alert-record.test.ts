import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AlertSchema } from '../../src/alerts/alert';
import { decodeAlertRecord, encodeAlertRecord, SchemaError } from '../../src/schema';
import { alert, FAKE_JPEG, rewrite, stages, T0 } from './fixtures';

test('AlertRecord round-trips to the identical Alert (what buildAlert made) and stages', () => {
  const a = alert(1);
  const bytes = encodeAlertRecord({ alert: a, stages: stages() });
  const d = decodeAlertRecord(bytes);
  assert.deepStrictEqual(d.alert, a);
  assert.deepStrictEqual(d.stages, stages());
  assert.equal(d.alert.scores.svm, 0.8123456789, 'scores are doubles: exact');
  assert.equal(d.alert.box.x, 100.1, 'the alert box is in doubles: exact');
  AlertSchema.parse(d.alert);
});

test('the face picture travels as bytes, not base64', () => {
  const big = Buffer.concat([Buffer.from(FAKE_JPEG.subarray(0, 4)), Buffer.alloc(30_000, 7)]);
  const a = { ...alert(0), faceJpeg: big.toString('base64') };
  const bytes = encodeAlertRecord({ alert: a, stages: [] });
  assert.ok(bytes.byteLength > 30_004 && bytes.byteLength < 30_004 + 400, `record ${bytes.byteLength} bytes for a 30,004-byte JPEG`);
  assert.equal(decodeAlertRecord(bytes).alert.faceJpeg, a.faceJpeg);
});

test('AlertRecord: times come back in toISOString form', () => {
  const a = { ...alert(0), firstSeen: '2025-05-06T13:59:59.200+02:00' };
  const d = decodeAlertRecord(encodeAlertRecord({ alert: a, stages: [] }));
  assert.equal(d.alert.firstSeen, new Date(T0 - 800).toISOString());
});

test('AlertRecord: invalid alerts are refused by the encoder and bad records by the decoder, naming the field', () => {
  const reason = (fn: () => unknown): string => {
    try {
      fn();
    } catch (err) {
      assert.ok(err instanceof SchemaError);
      return err.reason;
    }
    assert.fail('no SchemaError');
  };
  assert.match(reason(() => encodeAlertRecord({ alert: { ...alert(0), camera: '' }, stages: [] })), /^camera: missing/);
  assert.match(reason(() => encodeAlertRecord({ alert: { ...alert(0), id: 'nope' }, stages: [] })), /^alert\.id: expected a UUID$/);
  assert.match(reason(() => encodeAlertRecord({ alert: { ...alert(0), faceJpeg: 'iVBORw0KGgo=' }, stages: [] })), /^alert\.faceJpeg: expected a base64 JPEG$/);
  const good = encodeAlertRecord({ alert: alert(0), stages: stages() });
  assert.match(reason(() => decodeAlertRecord(rewrite(good, 'AlertRecord', (m) => (m.alertSchemaVersion = 2)))), /^alert_schema_version: unsupported alert schema version 2 \(this reader supports 1\)$/);
  assert.match(reason(() => decodeAlertRecord(rewrite(good, 'AlertRecord', (m) => (m.faceJpeg = new Uint8Array(0))))), /^face_jpeg: missing/);
  assert.match(reason(() => decodeAlertRecord(rewrite(good, 'AlertRecord', (m) => (m.identityId = '')))), /^alert\.identity\.id: /);
  assert.match(reason(() => decodeAlertRecord(rewrite(good, 'AlertRecord', (m) => (m.createdAtMs = 0)))), /^created_at_ms: missing/);
  assert.match(reason(() => decodeAlertRecord(rewrite(good, 'AlertRecord', (m) => (m.box = null)))), /^box: missing$/);
  assert.match(reason(() => decodeAlertRecord(rewrite(good, 'AlertRecord', (m) => (m.detectorScore = 2)))), /^alert\.scores\.detector: /);
});
