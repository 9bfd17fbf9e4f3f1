/**
 * The camera-status reader's rules (the Kafka path itself is covered by test/api/cameras.test.ts with a real broker
 * and ingest service): newer reports win, a silent reporter reads as offline after STALE_AFTER_MS, a null value
 * clears, a bad record is a SchemaError naming the field (never its value).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Kafka } from 'kafkajs';
import { CameraStatusReader, STALE_AFTER_MS } from '../../../src/services/cameras/status-topic';
import { cameraStatusRecord, encodeCameraStatus, SchemaError, type CameraStatusRecord } from '../../../src/schema';
import { logger } from '../../../src/util/log';

const base: CameraStatusRecord = {
  name: 'door',
  state: 'online',
  fps: 4.8,
  lastFrameAtMs: Date.UTC(2026, 0, 1, 8, 0, 0),
  lastError: null,
  frames: 1234,
  reconnects: 2,
  updatedAtMs: Date.UTC(2026, 0, 1, 8, 0, 1),
  reporter: 'ingest-1',
};

function reader(): CameraStatusReader {
  return new CameraStatusReader(undefined as unknown as Kafka, 'status', 'g-', logger().child({}, { level: 'silent' }));
}

test('reports round-trip; newer wins; a silent reporter reads as offline', () => {
  const r = reader();
  const { key, value } = cameraStatusRecord(base);
  r.apply(key, value);
  const now = base.updatedAtMs + 1000;
  assert.deepEqual(r.get('door', now), {
    camera: 'door', state: 'online', online: true, fps: 4.8, lastFrameAt: '2026-01-01T08:00:00.000Z', lastError: null,
    frames: 1234, reconnects: 2, updatedAt: '2026-01-01T08:00:01.000Z',
  });
  r.apply('door', encodeCameraStatus({ ...base, state: 'offline', fps: 0, lastError: 'ffmpeg failed: rtsp://***@h/x', updatedAtMs: base.updatedAtMs + 5000 }));
  r.apply('door', encodeCameraStatus({ ...base, updatedAtMs: base.updatedAtMs + 10 })); // an older report arriving late
  assert.equal(r.get('door', now + 5000)?.state, 'offline');
  assert.equal(r.get('door', now + 5000)?.lastError, 'ffmpeg failed: rtsp://***@h/x');

  r.apply('door', encodeCameraStatus({ ...base, updatedAtMs: base.updatedAtMs + 6000 }));
  const stale = r.get('door', base.updatedAtMs + 6000 + STALE_AFTER_MS + 1000);
  assert.equal(stale?.state, 'offline');
  assert.equal(stale?.online, false);
  assert.equal(stale?.fps, 0);
  assert.match(stale?.lastError ?? '', /no status from the ingest process running it for 2\d s/);

  r.apply('door', null);
  assert.equal(r.get('door'), undefined, 'a null value clears');
  assert.equal(r.get('elsewhere'), undefined);
});

test('bad records are SchemaErrors naming the field, never its value', () => {
  const r = reader();
  const bad = (fn: () => void, re: RegExp) =>
    assert.throws(fn, (e: unknown) => e instanceof SchemaError && re.test(e.reason) && !e.message.includes('hunter2'));
  bad(() => r.apply(null, encodeCameraStatus(base)), /key: missing/);
  bad(() => r.apply('rtsp://u:hunter2@h', encodeCameraStatus(base)), /key: expected a camera name/);
  bad(() => r.apply('other', encodeCameraStatus(base)), /name: differs from the record key/);
  bad(() => r.apply('door', Buffer.from('garbage bytes')), /not a valid protobuf record|missing schema_version|malformed/);
  bad(() => encodeCameraStatus({ ...base, state: 'dancing' as never }), /state: expected one of/);
  bad(() => encodeCameraStatus({ ...base, fps: -1 }), /fps: expected 0\.\.1000/);
  bad(() => encodeCameraStatus({ ...base, updatedAtMs: 0 }), /updated_at_ms: missing/);
});
