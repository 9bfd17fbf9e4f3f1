import assert from 'node:assert/strict';
import { test } from 'node:test';
import { calibrate } from '../../src/match/calibrate';
import { addIdentity, addNegatives, createGallery, setThresholds, type Thresholds } from '../../src/match/gallery';
import { buildMatcher, decide, distanceFromDot, unitDistance } from '../../src/match/matcher';
import { trainGallery } from '../../src/match/svm';
import { DIM, EMBEDDER, face, lookalike, makeWorld, normalise, randomUnit, rng, strangers } from './synthetic';

const LOOSE: Thresholds = { svm: -100, distance: 10 };

test('open set: calibrated thresholds reject strangers and look-alikes, accept enrolled people', (t) => {
  const r = rng(2024);
  const { gallery, centres } = makeWorld(r, 20, 5);
  const model = trainGallery(gallery);
  const cal = calibrate(gallery, model, strangers(r, centres, 1000), 0.01);
  const g = setThresholds(gallery, cal.thresholds);
  const m = buildMatcher(g, model);
  // Fresh faces: none of them was seen by training or calibration.
  const test1 = strangers(r, centres, 1000);
  let falseAccepts = 0;
  for (const s of test1) if (m.match(s).accepted) falseAccepts++;
  let accepted = 0;
  let wrong = 0;
  for (let i = 0; i < 400; i++) {
    const k = i % 20;
    const res = m.match(face(r, centres[k]));
    if (res.accepted) {
      if (res.identity === `p${k}`) accepted++;
      else wrong++;
    }
  }
  t.diagnostic(`thresholds svm ${cal.thresholds.svm.toFixed(3)} distance ${cal.thresholds.distance.toFixed(3)}; ` +
    `held-out FPIR ${falseAccepts}/1000, genuine accepted ${accepted}/400, misidentified ${wrong}`);
  assert.ok(falseAccepts <= 25, `held-out strangers accepted: ${falseAccepts}/1000 (target 1%)`);
  assert.ok(accepted >= 360, `enrolled probes accepted: ${accepted}/400`);
  assert.equal(wrong, 0);
  // Without calibration the uncalibrated defaults would not be this selective: the test is not vacuous.
  const loose = buildMatcher(setThresholds(gallery, LOOSE), model);
  assert.ok(test1.filter((s) => loose.match(s).accepted).length > 100);
});

test('results carry the reason; identity is set only when accepted', () => {
  const r = rng(9);
  const { gallery, centres } = makeWorld(r, 5, 4);
  const model = trainGallery(gallery);
  const probe = face(r, centres[2]);
  const ok = buildMatcher(setThresholds(gallery, LOOSE), model).match(probe);
  assert.equal(ok.reason, 'accepted');
  assert.equal(ok.identity, 'p2');
  assert.equal(ok.candidate, 'p2');
  assert.ok(ok.runnerUp && ok.runnerUp.identity !== 'p2' && ok.runnerUp.svmScore < ok.svmScore);
  const strictSvm = buildMatcher(setThresholds(gallery, { svm: 100, distance: 10 }), model).match(probe);
  assert.equal(strictSvm.reason, 'below-svm-threshold');
  assert.equal(strictSvm.identity, undefined);
  assert.equal(strictSvm.candidate, 'p2');
  assert.equal(strictSvm.accepted, false);
  const strictDist = buildMatcher(setThresholds(gallery, { svm: -100, distance: 0.01 }), model).match(probe);
  assert.equal(strictDist.reason, 'distance-too-large');
  assert.equal(strictDist.identity, undefined);
  // The distance is to the nearest enrolled positive of the candidate.
  const nearest = Math.min(...gallery.identities[2].embeddings.map((e) => unitDistance(normalise(probe), e, 'cosine')));
  assert.ok(Math.abs(ok.distance - nearest) < 1e-6);
  const m = buildMatcher(gallery, model);
  assert.equal(m.match(new Float32Array(DIM)).reason, 'invalid-embedding');
  assert.equal(m.match(new Float32Array(7).fill(1)).reason, 'invalid-embedding');
  assert.equal(m.matchTrack([]).reason, 'empty-track');
  const none = createGallery({ embedder: EMBEDDER, dim: DIM, metric: 'cosine' });
  const res = buildMatcher(none, trainGallery(none)).match(probe);
  assert.equal(res.reason, 'no-identities');
  assert.equal(res.accepted, false);
});

test('the probe being closer to an enrolled negative than to the positives prevents a match', () => {
  const r = rng(31);
  const { gallery, centres } = makeWorld(r, 10, 5, 0.07);
  // A look-alike of p0: without negatives, under permissive thresholds, p0 is reported.
  const twin = lookalike(r, centres[0], 0.75);
  const twinFaces = Array.from({ length: 200 }, () => face(r, twin, 0.07));
  const before = buildMatcher(setThresholds(gallery, LOOSE), trainGallery(gallery));
  const beforeHits = twinFaces.filter((f) => before.match(f).identity === 'p0').length;
  assert.ok(beforeHits >= 190, `look-alike reported as p0 ${beforeHits}/200 before negatives`);
  // Operator marks 5 alerts "this is not p0".
  const g = setThresholds(addNegatives(gallery, 'p0', EMBEDDER, Array.from({ length: 5 }, () => face(r, twin, 0.07))), LOOSE);
  const after = buildMatcher(g, trainGallery(g));
  const results = twinFaces.map((f) => after.match(f));
  const afterHits = results.filter((x) => x.identity === 'p0').length;
  assert.ok(afterHits <= 10, `look-alike reported as p0 ${afterHits}/200 after negatives`);
  assert.ok(results.some((x) => x.reason === 'closer-to-negative'), 'the negative-distance rule fired');
  // p0 is still recognised.
  const own = Array.from({ length: 100 }, () => after.match(face(r, centres[0], 0.07)));
  assert.ok(own.filter((x) => x.identity === 'p0').length >= 90);
  // Exactly a negative: rejected by the rule whatever the SVM says.
  const neg = g.identities[0].negatives[0];
  const exact = after.match(neg);
  if (exact.candidate === 'p0') assert.equal(exact.reason, 'closer-to-negative');
  assert.equal(exact.identity, undefined);
});

test('the negative rule alone: candidate closer to its negative is refused even with a permissive SVM', () => {
  const r = rng(77);
  let g = createGallery({ embedder: EMBEDDER, dim: DIM, metric: 'euclidean' });
  const c = randomUnit(r);
  g = addIdentity(g, { id: 'x', name: 'X', embedder: EMBEDDER, embeddings: [face(r, c), face(r, c)] }).gallery;
  g = addIdentity(g, { id: 'y', name: 'Y', embedder: EMBEDDER, embeddings: [face(r, randomUnit(r))] }).gallery;
  const model = trainGallery(g);
  const probe = face(r, c, 0.05);
  const g2 = setThresholds(addNegatives(g, 'x', EMBEDDER, [probe]), LOOSE);
  const m2 = buildMatcher(g2, trainGallery(g2));
  const res = m2.match(probe);
  assert.equal(res.identity, undefined);
  assert.equal(res.candidate, 'x');
  assert.equal(res.reason, 'closer-to-negative');
  assert.ok(res.negativeDistance !== undefined && res.negativeDistance < 1e-6);
  assert.equal(buildMatcher(setThresholds(g, LOOSE), model).match(probe).identity, 'x', 'accepted without the negative');
});

test('decide applies the rule in order: svm, distance, negatives', () => {
  const t: Thresholds = { svm: 0.5, distance: 0.4 };
  const a = { top: 0, topScore: 0.6, runner: -1, runnerScore: NaN, distance: 0.3, negativeDistance: Infinity };
  assert.equal(decide(a, t), 'accepted');
  assert.equal(decide({ ...a, topScore: 0.5 }, t), 'accepted', 'the svm threshold is inclusive');
  assert.equal(decide({ ...a, distance: 0.4 }, t), 'accepted', 'the distance threshold is inclusive');
  assert.equal(decide({ ...a, topScore: 0.49 }, t), 'below-svm-threshold');
  assert.equal(decide({ ...a, distance: 0.41 }, t), 'distance-too-large');
  assert.equal(decide({ ...a, negativeDistance: 0.29 }, t), 'closer-to-negative');
  assert.equal(decide({ ...a, negativeDistance: 0.3 }, t), 'accepted', 'a tie is not closer');
  assert.equal(decide({ ...a, topScore: NaN }, t), 'below-svm-threshold');
  assert.equal(decide({ ...a, top: -1 }, t), 'no-identities');
});

test('matchTrack: majority voting rejects stranger tracks better than best-of and mean', (t) => {
  const r = rng(55);
  const { gallery, centres } = makeWorld(r, 20, 5);
  const model = trainGallery(gallery);
  const cal = calibrate(gallery, model, strangers(r, centres, 1000), 0.01);
  const m = buildMatcher(setThresholds(gallery, cal.thresholds), model);
  const fp = { majority: 0, best: 0, mean: 0 };
  const tp = { majority: 0, best: 0, mean: 0 };
  const kinds = ['majority', 'best', 'mean'] as const;
  const tracks = 600;
  for (let i = 0; i < tracks; i++) {
    const c = i % 2 === 0 ? randomUnit(r) : lookalike(r, centres[i % 20], 0.3 + 0.3 * r());
    const crops = Array.from({ length: 5 }, () => face(r, c));
    for (const k of kinds) {
      const res = m.matchTrack(crops, k);
      if (res.accepted) fp[k]++;
      else assert.equal(res.identity, undefined);
    }
  }
  for (let i = 0; i < 200; i++) {
    const k = i % 20;
    const crops = Array.from({ length: 5 }, () => face(r, centres[k]));
    for (const a of kinds) if (m.matchTrack(crops, a).identity === `p${k}`) tp[a]++;
  }
  t.diagnostic(`5-crop tracks accepted: strangers ${JSON.stringify(fp)} of ${tracks}; genuine ${JSON.stringify(tp)} of 200`);
  assert.ok(fp.majority <= fp.best && fp.best <= fp.mean, JSON.stringify(fp));
  assert.ok(fp.majority <= 6, `stranger tracks accepted by majority: ${fp.majority}/${tracks} (1% target per probe)`);
  assert.ok(fp.mean > 6, `mean is measurably worse (${fp.mean}): the comparison is not vacuous`);
  assert.ok(tp.majority >= 190, `genuine tracks accepted by majority: ${tp.majority}/200`);
  // The default is majority, with the count and votes.
  const crops = Array.from({ length: 5 }, () => face(r, centres[3]));
  const res = m.matchTrack(crops);
  assert.equal(res.identity, 'p3');
  assert.equal(res.count, 5);
  assert.ok(res.votes !== undefined && res.votes >= 3);
});

test('matchTrack majority: a minority of accepted crops is rejected as no-majority', () => {
  const r = rng(56);
  const { gallery, centres } = makeWorld(r, 10, 5);
  const model = trainGallery(gallery);
  const m = buildMatcher(setThresholds(gallery, { svm: 0, distance: 0.7 }), model);
  const own = face(r, centres[1]);
  assert.equal(m.match(own).identity, 'p1');
  const others = Array.from({ length: 3 }, () => face(r, randomUnit(r)));
  for (const o of others) assert.equal(m.match(o).accepted, false);
  const res = m.matchTrack([own, ...others]);
  assert.equal(res.accepted, false);
  assert.equal(res.reason, 'no-majority');
  assert.equal(res.identity, undefined);
  assert.equal(res.candidate, 'p1');
  assert.equal(res.votes, 1);
  assert.equal(m.matchTrack([own, ...others], 'best').identity, 'p1');
  assert.equal(m.matchTrack([own, face(r, centres[1]), others[0]]).identity, 'p1', '2 of 3 is a majority');
  assert.equal(m.matchTrack([own, others[0]]).accepted, false, '1 of 2 is not');
  assert.equal(m.matchTrack([new Float32Array(DIM), own]).identity, 'p1', 'invalid embeddings are left out');
});

test('a model trained on another gallery is refused', () => {
  const r = rng(12);
  const { gallery } = makeWorld(r, 3, 2);
  const model = trainGallery(gallery);
  const bigger = addIdentity(gallery, { name: 'New', embedder: EMBEDDER, embeddings: [face(r, randomUnit(r))] }).gallery;
  assert.throws(() => buildMatcher(bigger, model), /trained on gallery version 3 .* differs from gallery version 4.*retrain/);
  const other = { ...gallery, embedder: 'other' };
  assert.throws(() => buildMatcher(other, model), /trained on "synthetic-128" embeddings, gallery holds "other"/);
});

test('distances on unit vectors', () => {
  assert.equal(distanceFromDot(1, 'cosine'), 0);
  assert.equal(distanceFromDot(0, 'cosine'), 1);
  assert.ok(Math.abs(distanceFromDot(0, 'euclidean') - Math.SQRT2) < 1e-12);
  assert.equal(distanceFromDot(1.0000001, 'euclidean'), 0);
});
