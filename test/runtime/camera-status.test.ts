/** The measured frame rate of a camera's status (FpsMeter) and the status of a camera that is not run. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FPS_WINDOW_MS, FpsMeter, idleStatus } from '../../src/runtime/camera-status';

test('fps over the last window: steady, slowing, silent', () => {
  const m = new FpsMeter();
  const t0 = 1_000_000;
  for (let i = 0; i <= 50; i++) m.tick(t0 + i * 200); // 5 fps for 10 s
  assert.equal(m.fps(t0 + 10_000), 5);
  // No frame for 2 s: the rate over the window drops (the silence counts).
  assert.ok(m.fps(t0 + 12_000) < 5 && m.fps(t0 + 12_000) > 2, String(m.fps(t0 + 12_000)));
  assert.equal(m.fps(t0 + 10_000 + FPS_WINDOW_MS + 1), 0, 'nothing in the window: 0');
  const one = new FpsMeter();
  one.tick(t0);
  assert.equal(one.fps(t0), 0, 'one frame is no rate');
});

test('idle status', () => {
  const s = idleStatus('gate', 'disabled', Date.UTC(2026, 0, 1));
  assert.deepEqual(s, { camera: 'gate', state: 'disabled', online: false, fps: 0, lastFrameAt: null, lastError: null, frames: 0, reconnects: 0, updatedAt: '2026-01-01T00:00:00.000Z' });
});
