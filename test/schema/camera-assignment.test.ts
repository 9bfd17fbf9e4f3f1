import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  cameraAssignmentRecord,
  cameraTombstone,
  decodeCameraAssignment,
  encodeCameraAssignment,
  recordKey,
  SchemaError,
} from '../../src/schema';
import { camera, rewrite } from './fixtures';

function reason(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof SchemaError, String(err));
    assert.ok(!err.message.includes('s3cr3t'), `the url's password must never be in an error: ${err.message}`);
    return err.reason;
  }
  assert.fail('no SchemaError');
}

test('CameraAssignment round-trips under its name as key (string or Buffer key)', () => {
  const cam = camera({ enabled: false, transport: 'udp', hwaccel: 'vaapi', fps: 2.5 });
  const { key, value } = cameraAssignmentRecord(cam);
  assert.equal(key, 'front-door');
  assert.equal(recordKey(cam), 'front-door');
  assert.deepStrictEqual(decodeCameraAssignment(key, value), { name: 'front-door', deleted: false, camera: cam });
  assert.deepStrictEqual(decodeCameraAssignment(Buffer.from(key), value), { name: 'front-door', deleted: false, camera: cam });
});

test('a null value is a tombstone: the camera is removed', () => {
  const t = cameraTombstone('front-door');
  assert.deepStrictEqual(t, { key: 'front-door', value: null });
  assert.deepStrictEqual(decodeCameraAssignment(t.key, t.value), { name: 'front-door', deleted: true });
  assert.deepStrictEqual(decodeCameraAssignment(Buffer.from('lobby'), null), { name: 'lobby', deleted: true });
  assert.match(reason(() => decodeCameraAssignment(null, null)), /^key: missing/);
  assert.match(reason(() => cameraTombstone('rtsp://x')), /^key: expected a camera name/);
});

test('a value stored under another camera name is rejected', () => {
  const { value } = cameraAssignmentRecord(camera());
  assert.match(reason(() => decodeCameraAssignment('back-door', value)), /^name: differs from the record key/);
});

test('invalid assignments are refused both ways, naming the field and never showing the url', () => {
  assert.match(reason(() => encodeCameraAssignment(camera({ fps: 0 }))), /^fps: expected number > 0 and <= 60$/);
  assert.match(reason(() => encodeCameraAssignment(camera({ maxWidth: 10 }))), /^max_width: expected integer 64\.\.7680$/);
  assert.match(reason(() => encodeCameraAssignment(camera({ url: 'ftp://admin:s3cr3t@x/y' }))), /^url: expected rtsp:\/\//);
  assert.match(reason(() => encodeCameraAssignment(camera({ name: '' }))), /^name: missing/);
  assert.match(reason(() => encodeCameraAssignment(camera({ updatedAtMs: 0 }))), /^updated_at_ms: missing/);
  const good = encodeCameraAssignment(camera());
  assert.match(reason(() => decodeCameraAssignment('front-door', rewrite(good, 'CameraAssignment', (m) => (m.transport = 'quic')))), /^transport: expected one of "tcp", "udp"$/);
  assert.match(reason(() => decodeCameraAssignment('front-door', rewrite(good, 'CameraAssignment', (m) => (m.url = 'ftp://admin:s3cr3t@x/y')))), /^url: /);
  assert.match(reason(() => decodeCameraAssignment('front-door', rewrite(good, 'CameraAssignment', (m) => (m.hwaccel = '')))), /^hwaccel: /);
  assert.match(reason(() => decodeCameraAssignment('front-door', good.subarray(0, good.byteLength - 2))), /^not a valid protobuf record/);
});
