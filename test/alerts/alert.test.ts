import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { alertId, AlertSchema, buildAlert } from '../../src/alerts/alert';
import { FAKE_JPEG, makeAlert } from './make-alert';

describe('alert record', () => {
  it('derives a stable UUIDv5 id from camera, track, identity and track start', () => {
    const parts = { camera: 'door', trackId: 7, identityId: 'p1', trackStartedAt: 1_700_000_000_000 };
    const id = alertId(parts);
    assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.equal(alertId({ ...parts }), id);
    assert.equal(alertId({ ...parts, trackId: '7', trackStartedAt: new Date(1_700_000_000_000) }), id);
    const others = [
      alertId({ ...parts, camera: 'lobby' }),
      alertId({ ...parts, trackId: 8 }),
      alertId({ ...parts, identityId: 'p2' }),
      alertId({ ...parts, trackStartedAt: 1_700_000_000_001 }), // same track id after a restart
    ];
    assert.equal(new Set([id, ...others]).size, 5);
  });

  it('builds a valid record whose face crop round-trips, with the same id on re-send', () => {
    const a = makeAlert(1);
    assert.deepEqual(AlertSchema.parse(JSON.parse(JSON.stringify(a))), a);
    assert.deepEqual(Buffer.from(a.faceJpeg, 'base64'), Buffer.from(FAKE_JPEG));
    assert.equal(a.camera, 'front-door');
    assert.equal(a.trackId, '1');
    assert.equal(a.schemaVersion, 1);
    assert.equal(a.type, 'face.match');
    assert.equal(a.firstSeen, '2024-01-01T12:00:01.000Z');
    assert.equal(makeAlert(1).id, a.id);
    assert.notEqual(makeAlert(2).id, a.id);
  });

  it('refuses a camera URL in place of the camera name, and a non-JPEG crop', () => {
    const base = {
      identity: { id: 'p', name: 'P' },
      watchlists: [],
      scores: { svm: 1, distance: 0.3, detector: 0.9 },
      trackId: 1,
      firstSeen: 0,
      lastSeen: 1,
      box: { x: 0, y: 0, width: 10, height: 10 },
      frameSize: { width: 100, height: 100 },
    };
    assert.throws(() => buildAlert({ ...base, camera: 'rtsp://admin:pw@10.0.0.5/stream', faceJpeg: FAKE_JPEG }), /camera name/);
    assert.throws(() => buildAlert({ ...base, camera: 'door', faceJpeg: Uint8Array.from([1, 2, 3]) }), /base64 JPEG/);
  });
});
