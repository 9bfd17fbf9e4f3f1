import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { FaceQuality } from '../../src/detect/types';
import { BestCrops, gateFailure, resolveBestCropOptions } from '../../src/track/best-crops';

function q(score: number, extra: Partial<FaceQuality> = {}): FaceQuality {
  return { eyeDistance: 40, faceSize: 100, blur: 200, yaw: 5, pitch: 3, roll: 1, score, ...extra };
}

test('embeds the first acceptable crop, then only clearly better ones, spaced in time', () => {
  const bc = new BestCrops({ margin: 0.05, minIntervalMs: 500, maxPerTrack: 5 });
  const seq: [number, FaceQuality, boolean, string][] = [
    [0, q(0.5, { blur: 1 }), false, 'gate-failed'], // too blurry
    [100, q(0.5, { faceSize: 20 }), false, 'gate-failed'], // too small
    [200, q(0.5), true, 'first'],
    [300, q(0.52), false, 'not-better'], // within the margin
    [400, q(0.7), false, 'too-soon'], // better, but 200 ms after the last
    [800, q(0.54), false, 'not-better'],
    [900, q(0.7), true, 'better'],
    [1000, q(0.9), false, 'too-soon'],
    [1400, q(0.9), true, 'better'],
  ];
  for (const [t, quality, embed, reason] of seq) {
    const d = bc.consider('cam-1', quality, t);
    assert.equal(d.embed, embed, `t=${t}`);
    assert.equal(d.reason, reason, `t=${t}`);
  }
  assert.equal(bc.embedded('cam-1'), 3);
});

test('at most maxPerTrack crops per track; tracks are independent; forget() resets', () => {
  const bc = new BestCrops({ maxPerTrack: 2, minIntervalMs: 0, margin: 0 });
  assert.equal(bc.consider('a', q(0.3), 0).embed, true);
  assert.equal(bc.consider('a', q(0.4), 1).embed, true);
  const d = bc.consider('a', q(0.99), 2);
  assert.equal(d.embed, false);
  assert.equal(d.reason, 'limit-reached');
  assert.equal(bc.consider('b', q(0.3), 2).reason, 'first');
  assert.equal(bc.size, 2);
  bc.forget('a');
  assert.equal(bc.embedded('a'), 0);
  assert.equal(bc.consider('a', q(0.3), 3).reason, 'first');
});

test('the default policy allows 5 per track and one per 500 ms', () => {
  const bc = new BestCrops();
  let embedded = 0;
  for (let i = 0; i < 100; i++) if (bc.consider('t', q(0.2 + i * 0.008), i * 100).embed) embedded++;
  assert.equal(embedded, 5);
  assert.deepEqual(
    { ...resolveBestCropOptions(), gate: undefined },
    { maxPerTrack: 5, minIntervalMs: 500, margin: 0.05, gate: undefined },
  );
});

test('the quality gate says what failed', () => {
  assert.equal(gateFailure(q(0.5)), undefined);
  assert.match(gateFailure(q(0.5, { yaw: -60 }))!, /yaw -60° beyond ±45°/);
  assert.match(gateFailure(q(0.5, { pitch: 40 }))!, /pitch/);
  assert.match(gateFailure(q(0.5, { roll: 55 }))!, /roll/);
  assert.match(gateFailure(q(0.5, { score: NaN }))!, /quality score/);
  assert.match(gateFailure(q(0.5, { blur: 10 }), { ...resolveBestCropOptions().gate, minBlur: 50 })!, /too blurry: sharpness 10 < 50/);
  const bc = new BestCrops({ gate: { maxYaw: 20 } });
  const d = bc.consider('x', q(0.9, { yaw: 25 }), 0);
  assert.equal(d.reason, 'gate-failed');
  assert.match(d.detail!, /yaw/);
  assert.throws(() => new BestCrops({ maxPerTrack: 0 }), /maxPerTrack/);
});
