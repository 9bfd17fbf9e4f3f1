import assert from 'node:assert/strict';
import { test } from 'node:test';
import { binomialUpper, calibrate } from '../../src/match/calibrate';
import { addIdentity, setThresholds } from '../../src/match/gallery';
import { buildMatcher } from '../../src/match/matcher';
import { trainGallery } from '../../src/match/svm';
import { EMBEDDER, face, makeWorld, randomUnit, rng, strangers } from './synthetic';

test('calibration meets the target FPIR on its unknowns and the matcher agrees with its counts', (t) => {
  const r = rng(101);
  const { gallery, centres } = makeWorld(r, 25, 5);
  const model = trainGallery(gallery);
  const unknowns = strangers(r, centres, 1000);
  for (const target of [0.05, 0.01, 0.002]) {
    const cal = calibrate(gallery, model, unknowns, target, { now: () => new Date('2025-06-01T00:00:00Z') });
    t.diagnostic(
      `target ${target}: svm ${cal.thresholds.svm.toFixed(3)} distance ${cal.thresholds.distance.toFixed(3)} ` +
        `FPIR ${cal.achievedFpir} (95% upper ${cal.fpirUpper95.toFixed(4)}) FNIR ${cal.estimatedFnir.toFixed(3)} ` +
        `probes ${cal.counts.probesAccepted}/${cal.counts.probes}`,
    );
    assert.ok(cal.achievedFpir <= target, `achieved ${cal.achievedFpir} > target ${target}`);
    assert.equal(cal.counts.unknowns, 1000);
    assert.equal(cal.counts.probes, 125);
    assert.equal(cal.counts.probesSkipped, 0);
    assert.equal(cal.resolutionLimited, false);
    assert.deepEqual(cal.warnings, []);
    assert.equal(cal.thresholds.targetFpir, target);
    assert.equal(cal.thresholds.calibrationSize, 1000);
    assert.equal(cal.thresholds.calibratedAt, '2025-06-01T00:00:00.000Z');
    assert.ok(cal.estimatedFnir < 0.2, `FNIR ${cal.estimatedFnir}`);
    // The matcher, given the stored thresholds, accepts exactly the unknowns calibration counted.
    const m = buildMatcher(setThresholds(gallery, cal.thresholds), model);
    assert.equal(unknowns.filter((u) => m.match(u).accepted).length, cal.counts.unknownsAccepted);
  }
  // Stricter targets give stricter thresholds (or equal), never looser.
  const loose = calibrate(gallery, model, unknowns, 0.05);
  const strict = calibrate(gallery, model, unknowns, 0.002);
  assert.ok(strict.counts.unknownsAccepted <= loose.counts.unknownsAccepted);
  assert.ok(strict.counts.probesAccepted <= loose.counts.probesAccepted);
  assert.ok(loose.counts.unknownsAccepted > 2, 'the 5% target does accept some unknowns: the data is not trivially separable');
});

test('held-out unknowns stay near the target', () => {
  const r = rng(202);
  const { gallery, centres } = makeWorld(r, 25, 5);
  const model = trainGallery(gallery);
  const cal = calibrate(gallery, model, strangers(r, centres, 2000), 0.01);
  const m = buildMatcher(setThresholds(gallery, cal.thresholds), model);
  const fresh = strangers(r, centres, 2000);
  const fp = fresh.filter((u) => m.match(u).accepted).length;
  assert.ok(fp / 2000 <= 0.025, `held-out FPIR ${fp}/2000 for a 1% target`);
});

test('a target below the resolution is reported and the strictest thresholds used', () => {
  const r = rng(303);
  const { gallery, centres } = makeWorld(r, 10, 4);
  const model = trainGallery(gallery);
  const unknowns = strangers(r, centres, 50);
  const cal = calibrate(gallery, model, unknowns, 0.001);
  assert.equal(cal.resolutionLimited, true);
  assert.equal(cal.resolution, 1 / 50);
  assert.equal(cal.warnings.length, 1);
  assert.match(cal.warnings[0], /resolution of 50 unknown faces \(1\/50 = 0\.02\)/);
  assert.match(cal.warnings[0], /at least 1000 unknowns/);
  assert.equal(cal.counts.unknownsAccepted, 0);
  assert.ok(Math.abs(cal.fpirUpper95 - (1 - Math.pow(0.05, 1 / 50))) < 1e-12);
  const m = buildMatcher(setThresholds(gallery, cal.thresholds), model);
  assert.equal(unknowns.filter((u) => m.match(u).accepted).length, 0);
  assert.throws(() => calibrate(gallery, model, unknowns, 0.001, { onInsufficient: 'throw' }), /1\/50 = 0\.02/);
  // At the resolution itself (1/50) it is fine.
  assert.equal(calibrate(gallery, model, unknowns, 0.02).resolutionLimited, false);
});

test('leave-one-out: single-embedding identities are skipped; without LOO the estimate is more optimistic', () => {
  const r = rng(404);
  const w = makeWorld(r, 15, 3, 0.12);
  const gallery = addIdentity(w.gallery, { id: 'solo', name: 'Solo', embedder: EMBEDDER, embeddings: [face(r, randomUnit(r))] }).gallery;
  const model = trainGallery(gallery);
  const unknowns = strangers(r, w.centres, 500, 0.3, 0.6, 0.12);
  const loo = calibrate(gallery, model, unknowns, 0.01);
  assert.equal(loo.counts.probes, 45);
  assert.equal(loo.counts.probesSkipped, 1);
  assert.equal(loo.counts.identities, 16);
  const optimistic = calibrate(gallery, model, unknowns, 0.01, { leaveOneOut: false });
  assert.ok(optimistic.estimatedFnir <= loo.estimatedFnir, `no-LOO FNIR ${optimistic.estimatedFnir} vs LOO ${loo.estimatedFnir}`);
  // maxProbes spreads a subset over the gallery.
  const few = calibrate(gallery, model, unknowns, 0.01, { maxProbes: 10 });
  assert.equal(few.counts.probes, 10);
  assert.equal(few.counts.probesSkipped, 36);
});

test('no genuine probes: FNIR unknown, the distance threshold kept, still within the FPIR budget', () => {
  const r = rng(505);
  const { gallery, centres } = makeWorld(r, 10, 1);
  const model = trainGallery(gallery);
  const unknowns = strangers(r, centres, 200);
  const cal = calibrate(gallery, model, unknowns, 0.05);
  assert.ok(Number.isNaN(cal.estimatedFnir));
  assert.equal(cal.counts.probes, 0);
  assert.match(cal.warnings.join(' '), /no genuine probes/);
  assert.equal(cal.thresholds.distance, gallery.thresholds.distance);
  assert.ok(cal.counts.unknownsAccepted <= 10);
});

test('bad input is refused with clear errors', () => {
  const r = rng(606);
  const { gallery, centres } = makeWorld(r, 4, 3);
  const model = trainGallery(gallery);
  const u = strangers(r, centres, 20);
  assert.throws(() => calibrate(gallery, model, [], 0.01), /needs unknown faces/);
  assert.throws(() => calibrate(gallery, model, u, 0), /targetFpir must be in \(0, 1\)/);
  assert.throws(() => calibrate(gallery, model, u, 1.5), /targetFpir/);
  assert.throws(() => calibrate(gallery, model, [new Float32Array(5)], 0.1), /unknown embedding 0/);
  const other = addIdentity(gallery, { name: 'Z', embedder: EMBEDDER, embeddings: [face(r, randomUnit(r))] }).gallery;
  assert.throws(() => calibrate(other, model, u, 0.1), /retrain before calibrating/);
  const withBg = trainGallery(gallery, { background: u.slice(0, 5) });
  assert.throws(() => calibrate(gallery, withBg, u.slice(5), 0.1), /trained with 5 background embeddings but 0 were given/);
  assert.doesNotThrow(() => calibrate(gallery, withBg, u.slice(5), 0.1, { background: u.slice(0, 5) }));
});

test('binomialUpper: closed form at 0, CDF at the bound equals 5%', () => {
  assert.ok(Math.abs(binomialUpper(0, 100) - 0.0295) < 1e-4);
  const n = 100;
  const k = 5;
  const p = binomialUpper(k, n);
  let cdf = 0;
  let c = 1; // C(n, i)
  for (let i = 0; i <= k; i++) {
    if (i > 0) c = (c * (n - i + 1)) / i;
    cdf += c * Math.pow(p, i) * Math.pow(1 - p, n - i);
  }
  assert.ok(Math.abs(cdf - 0.05) < 1e-6, `P(X <= 5) at ${p} = ${cdf}`);
  assert.ok(p > 0.1 && p < 0.105);
  assert.equal(binomialUpper(10, 10), 1);
});
