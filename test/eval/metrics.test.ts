import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  bestThreshold,
  evaluateIdentification,
  nextUp,
  openSetFnir,
  verificationAccuracy,
  type LabelledEmbedding,
  type ProbeScore,
  type ScoredPair,
} from '../../src/eval/metrics';

const S = true;
const D = false;
const pair = (same: boolean, distance: number, fold = 0): ScoredPair => ({ fold, same, distance });
const emb = (label: string, ...v: number[]): LabelledEmbedding => ({ label, embedding: Float32Array.from(v) });

describe('bestThreshold (same ⇔ distance < t)', () => {
  test('picks the most accurate midpoint; ties go to the smallest threshold', () => {
    // sorted: .125 S, .25 D, .375 S, .625 D (dyadic, so midpoints are exact).
    // Candidates: .125 → 2/4, .1875 → 3/4, .3125 → 2/4, .5 → 3/4, nextUp(.625) → 2/4.
    const r = bestThreshold([pair(S, 0.375), pair(D, 0.625), pair(S, 0.125), pair(D, 0.25)]);
    assert.equal(r.threshold, 0.1875);
    assert.equal(r.accuracy, 0.75);
  });

  test('equal distances move together', () => {
    // Three pairs at 0.25 (S, D, S) cannot be split: accepting them gains 2 - 1.
    const r = bestThreshold([pair(S, 0.25), pair(D, 0.25), pair(S, 0.25), pair(D, 0.75)]);
    assert.equal(r.threshold, 0.5);
    assert.equal(r.accuracy, 0.75);
  });

  test('all-same and all-different sets', () => {
    const allSame = bestThreshold([pair(S, 0.3), pair(S, 0.4)]);
    assert.equal(allSame.accuracy, 1);
    assert.equal(allSame.threshold, nextUp(0.4));
    assert.ok(allSame.threshold > 0.4 && allSame.threshold - 0.4 < 1e-15);
    const allDiff = bestThreshold([pair(D, 0.3), pair(D, 0.4)]);
    assert.deepEqual(allDiff, { threshold: 0.3, accuracy: 1 }); // d < 0.3 accepts nothing
  });

  test('rejects empty input and non-finite distances', () => {
    assert.throws(() => bestThreshold([]), RangeError);
    assert.throws(() => bestThreshold([pair(S, NaN)]), RangeError);
  });
});

describe('verificationAccuracy (LFW k-fold protocol)', () => {
  // Dyadic distances so every midpoint is exact.
  const pairs = [
    pair(S, 0.125, 0), pair(D, 0.875, 0),
    pair(S, 0.25, 1), pair(D, 0.75, 1),
    pair(S, 0.625, 2), pair(D, 0.375, 2),
  ];

  test('threshold from the other folds, accuracy on the held-out fold (hand-computed)', () => {
    const r = verificationAccuracy(pairs);
    // fold 0: train {.25S .375D .625S .75D} → t = .3125 (ties with .6875; smaller wins); test: both right.
    // fold 1: train {.125S .375D .625S .875D} → t = .25; test: .25S is NOT < .25 → wrong; .75D right.
    // fold 2: train {.125S .25S .75D .875D} → t = .5 (train acc 1); test: .625S wrong, .375D wrong.
    assert.deepEqual(r.folds.map((f) => [f.fold, f.threshold, f.trainAccuracy, f.accuracy, f.pairs]), [
      [0, 0.3125, 0.75, 1, 2],
      [1, 0.25, 0.75, 0.5, 2],
      [2, 0.5, 1, 0, 2],
    ]);
    assert.equal(r.pairs, 6);
    assert.equal(r.accuracy, 0.5);
    assert.ok(Math.abs(r.std - Math.sqrt(1 / 6)) < 1e-15); // population std of {1, .5, 0}
    assert.ok(Math.abs(r.standardError - 0.5 / Math.sqrt(3)) < 1e-15); // sample std .5 / sqrt(3)
    assert.ok(Math.abs(r.threshold - 1.0625 / 3) < 1e-15);
  });

  test('fold ids need not be 0..k-1 or in order; at least two folds are needed', () => {
    const relabelled = pairs.map((p) => ({ ...p, fold: [7, 3, 5][p.fold] }));
    const r = verificationAccuracy([...relabelled].reverse());
    assert.deepEqual(r.folds.map((f) => [f.fold, f.accuracy]), [[3, 0.5], [5, 0], [7, 1]]);
    assert.equal(r.accuracy, 0.5);
    assert.throws(() => verificationAccuracy(pairs.map((p) => ({ ...p, fold: 0 }))), /at least 2 folds/);
  });

  test('a separable set scores 100% in every fold', () => {
    const sep: ScoredPair[] = [];
    for (let f = 0; f < 10; f++) for (let i = 0; i < 5; i++) sep.push(pair(S, 0.1 + 0.01 * i, f), pair(D, 0.6 + 0.01 * i, f));
    const r = verificationAccuracy(sep);
    assert.equal(r.accuracy, 1);
    assert.equal(r.std, 0);
    assert.ok(r.threshold > 0.14 && r.threshold < 0.6);
  });
});

describe('identification: rank-1 and FNIR at FPIR', () => {
  // Euclidean distances in 2-D with whole-number results.
  const gallery = [emb('A', 0, 0), emb('A', 10, 0), emb('B', 0, 10)];
  const probes = [
    emb('A', 9, 0), //   A: min(9, 1) = 1; B: √181 → correct at 1
    emb('B', 0, 4), //   A: 4; B: 6 → wrong (nearest A)
    emb('B', 0, 5), //   A: 5; B: 5 → tie with another identity → counted wrong
    emb('C', 0, 9), //   C is not enrolled → wrong, "without gallery"
    emb('B', 0, 6), //   A: 6; B: 4 → correct at 4
    emb('A', 15, 0), //  A: 5; B: √325 → correct at 5
  ];
  const unknowns = [
    emb('U1', 5, 0), //  nearest 5 (A)
    emb('U2', 0, 13), // nearest 3 (B)
    emb('U3', 20, 0), // nearest 10 (A)
    emb('U4', 10, 7), // nearest 7 (A)
  ];

  test('rank-1 with the strict tie rule and missing identities', () => {
    const r = evaluateIdentification(gallery, probes, unknowns, 'euclidean');
    assert.deepEqual(r.probeScores.map((s) => [s.correct, s.nearestLabel, s.nearestDistance, s.trueDistance]), [
      [true, 'A', 1, 1],
      [false, 'A', 4, 6],
      [false, 'A', 5, 5],
      [false, 'B', 1, null],
      [true, 'B', 4, 4],
      [true, 'A', 5, 5],
    ]);
    assert.deepEqual(r.rank1, { rank1: 0.5, correct: 3, probes: 6, probesWithoutGallery: 1 });
    assert.deepEqual(r.unknownNearest, [5, 3, 10, 7]);
  });

  test('FNIR at FPIR: t = (k+1)-th smallest unknown distance, k = floor(target * N); distance == t is rejected', () => {
    const r = evaluateIdentification(gallery, probes, unknowns, 'euclidean', [0.01, 0.25, 0.5]);
    const pts = r.openSet.points!;
    assert.equal(r.openSet.fpirResolution, 0.25);
    // 1%: k = 0, t = 3; no unknown < 3; only probe 1 (d 1) is a hit → FNIR 5/6. Target below 1/N → note.
    assert.equal(pts[0].threshold, 3);
    assert.equal(pts[0].fpirAchieved, 0);
    assert.equal(pts[0].fnir, 5 / 6);
    assert.match(pts[0].note ?? '', /steps of 1\/4/);
    // 25%: k = 1, t = 5; unknowns < 5: {3} (U1 at exactly 5 is not a false alarm); hits: d 1, d 4 (d 5 rejected).
    assert.deepEqual([pts[1].threshold, pts[1].falseAlarms, pts[1].fpirAchieved, pts[1].misses, pts[1].fnir], [5, 1, 0.25, 4, 4 / 6]);
    assert.equal(pts[1].note, undefined);
    // 50%: k = 2, t = 7; unknowns < 7: {3, 5}; hits: d 1, 4, 5.
    assert.deepEqual([pts[2].threshold, pts[2].falseAlarms, pts[2].fpirAchieved, pts[2].fnir], [7, 2, 0.5, 0.5]);
  });

  test('ties among unknown distances make the achieved FPIR coarser than the target', () => {
    const enrolled: ProbeScore[] = [{ label: 'A', nearestLabel: 'A', nearestDistance: 1, trueDistance: 1, correct: true }];
    const r = openSetFnir(enrolled, [2, 2, 2, 9], [0.5]);
    // k = 2 → t = s_3 = 2; no unknown is < 2, so FPIR 0 (any t > 2 would give 3/4 > 0.5).
    assert.deepEqual([r.points![0].threshold, r.points![0].fpirAchieved, r.points![0].fnir], [2, 0, 0]);
  });

  test('k is not lost to rounding (0.29 * 100 = 28.999999999999996)', () => {
    const enrolled: ProbeScore[] = [{ label: 'A', nearestLabel: 'A', nearestDistance: 1, trueDistance: 1, correct: true }];
    const unknown = Array.from({ length: 100 }, (_, i) => i + 1);
    const p = openSetFnir(enrolled, unknown, [0.29]).points![0];
    assert.deepEqual([p.threshold, p.falseAlarms, p.fpirAchieved], [30, 29, 0.29]);
  });

  test('no unknown probes: null with a reason; no probes: rank-1 null', () => {
    const r = evaluateIdentification(gallery, probes, [], 'euclidean');
    assert.equal(r.openSet.points, null);
    assert.match(r.openSet.reason ?? '', /no non-enrolled/);
    assert.equal(r.openSet.fpirResolution, null);
    const none = evaluateIdentification(gallery, [], unknowns, 'euclidean');
    assert.equal(none.rank1.rank1, null);
    assert.equal(none.openSet.points, null);
  });

  test('empty gallery: every probe is an error and open-set is undefined', () => {
    const r = evaluateIdentification([], probes.slice(0, 2), unknowns, 'euclidean');
    assert.equal(r.rank1.rank1, 0);
    assert.equal(r.rank1.probesWithoutGallery, 2);
    assert.equal(r.openSet.points, null);
    assert.match(r.openSet.reason ?? '', /gallery is empty/);
  });

  test('unknown probes must not be enrolled people', () => {
    assert.throws(() => evaluateIdentification(gallery, probes, [emb('A', 1, 1)], 'euclidean'), /A is enrolled/);
  });

  test('cosine distance on L2-normalised embeddings (1 - dot)', () => {
    const g = [emb('A', 1, 0), emb('B', 0, 1)];
    const r = evaluateIdentification(g, [emb('A', 0.8, 0.6)], [emb('U', -1, 0)], 'cosine', [0.01]);
    assert.ok(Math.abs(r.probeScores[0].nearestDistance - 0.2) < 1e-7); // 1 - 0.8 (B: 1 - 0.6)
    assert.equal(r.rank1.rank1, 1);
    assert.ok(Math.abs(r.unknownNearest[0] - 1) < 1e-12); // (-1,0) is at 1 - 0 = 1 from B and 2 from A
    assert.equal(r.openSet.points![0].threshold, r.unknownNearest[0]);
    assert.equal(r.openSet.points![0].fnir, 0);
  });
});
