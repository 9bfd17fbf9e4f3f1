import assert from 'node:assert/strict';
import { test } from 'node:test';
import { addIdentity, addNegatives, createGallery } from '../../src/match/gallery';
import {
  ROW_BACKGROUND,
  ROW_NEGATIVE,
  buildTrainingSet,
  identityProblem,
  resolveSvmOptions,
  scoreAll,
  trainGallery,
  trainIdentity,
} from '../../src/match/svm';
import { DIM, EMBEDDER, face, makeWorld, randomUnit, rng } from './synthetic';

function argmax(a: Float32Array): number {
  let b = 0;
  for (let i = 1; i < a.length; i++) if (a[i] > a[b]) b = i;
  return b;
}

test('hard-margin solution of a two-point problem is the known optimum', () => {
  let g = createGallery({ embedder: 'e', dim: 2, metric: 'cosine' });
  g = addIdentity(g, { id: 'a', name: 'A', embedder: 'e', embeddings: [Float32Array.of(1, 0)] }).gallery;
  g = addIdentity(g, { id: 'b', name: 'B', embedder: 'e', embeddings: [Float32Array.of(-1, 0)] }).gallery;
  // min 1/2 (w1^2 + w2^2 + wb^2) s.t. w1 + wb >= 1, w1 - wb >= 1  =>  w = (1, 0), wb = 0.
  const m = trainGallery(g, { loss: 'l1', C: 1000, classWeight: 'none', workingSet: 0, eps: 1e-6 });
  assert.ok(Math.abs(m.weights[0] - 1) < 1e-4, `w1 = ${m.weights[0]}`);
  assert.ok(Math.abs(m.weights[1]) < 1e-4, `w2 = ${m.weights[1]}`);
  assert.ok(Math.abs(m.bias[0]) < 1e-4, `b = ${m.bias[0]}`);
  assert.ok(Math.abs(m.weights[2] + 1) < 1e-4, 'identity b is the mirror image');
  // With the positive (1,0) against (0,1): w = (1, -1), wb = 0, both on the margin.
  let h = createGallery({ embedder: 'e', dim: 2, metric: 'cosine' });
  h = addIdentity(h, { id: 'a', name: 'A', embedder: 'e', embeddings: [Float32Array.of(1, 0)] }).gallery;
  h = addIdentity(h, { id: 'c', name: 'C', embedder: 'e', embeddings: [Float32Array.of(0, 1)] }).gallery;
  const n = trainGallery(h, { loss: 'l1', C: 1000, classWeight: 'none', workingSet: 0, eps: 1e-6 });
  assert.deepEqual(Array.from(n.weights.subarray(0, 2), (x) => Math.round(x * 1e4) / 1e4), [1, -1]);
});

test('one-vs-rest SVMs separate Gaussian clusters on the 128-d unit sphere', () => {
  const r = rng(7);
  const { gallery, centres } = makeWorld(r, 30, 5);
  const model = trainGallery(gallery);
  assert.equal(model.weights.length, 30 * DIM);
  assert.equal(model.stats.hitIterationLimit, 0);
  const s = new Float32Array(30);
  let correct = 0;
  let ownPositive = 0;
  let othersNegative = 0;
  const probes = 300;
  for (let i = 0; i < probes; i++) {
    const k = i % 30;
    scoreAll(model, face(r, centres[k]), s);
    if (argmax(s) === k) correct++;
    if (s[k] > 0) ownPositive++;
    let neg = true;
    for (let j = 0; j < 30; j++) if (j !== k && s[j] >= 0) neg = false;
    if (neg) othersNegative++;
  }
  assert.ok(correct / probes >= 0.98, `top-1 ${correct}/${probes}`);
  assert.ok(ownPositive / probes >= 0.9, `own score > 0 for ${ownPositive}/${probes}`);
  assert.ok(othersNegative / probes >= 0.95, `all other scores < 0 for ${othersNegative}/${probes}`);
  // Random strangers score below zero everywhere.
  let strangerNeg = 0;
  for (let i = 0; i < 100; i++) {
    scoreAll(model, face(r, randomUnit(r)), s);
    if (s[argmax(s)] < 0) strangerNeg++;
  }
  assert.ok(strangerNeg >= 95, `strangers all-negative ${strangerNeg}/100`);
});

test('training is deterministic, and the optimum does not depend on the seed or the working set', () => {
  const { gallery } = makeWorld(rng(11), 25, 4);
  const a = trainGallery(gallery);
  const b = trainGallery(gallery);
  assert.deepEqual(Buffer.from(a.weights.buffer), Buffer.from(b.weights.buffer));
  assert.deepEqual(Buffer.from(a.bias.buffer), Buffer.from(b.bias.buffer));
  const tight = { eps: 1e-4 };
  const ref = trainGallery(gallery, { ...tight, workingSet: 0, seed: 1 });
  for (const other of [trainGallery(gallery, { ...tight, workingSet: 0, seed: 99 }), trainGallery(gallery, { ...tight, workingSet: 8 })]) {
    let maxDiff = 0;
    for (let i = 0; i < ref.weights.length; i++) maxDiff = Math.max(maxDiff, Math.abs(ref.weights[i] - other.weights[i]));
    for (let i = 0; i < ref.bias.length; i++) maxDiff = Math.max(maxDiff, Math.abs(ref.bias[i] - other.bias[i]));
    assert.ok(maxDiff < 1e-3, `max weight difference ${maxDiff}`);
  }
});

test('a warm-started leave-one-out solve equals training without that example', () => {
  const { gallery } = makeWorld(rng(5), 12, 4);
  const o = resolveSvmOptions({ eps: 1e-4 });
  const set = buildTrainingSet(gallery);
  const full = trainIdentity(set, 3, o);
  const row = set.owner.indexOf(3) + 1; // second positive of identity 3
  const loo = trainIdentity(set, 3, o, row, full.solution);
  const without = {
    ...gallery,
    identities: gallery.identities.map((id, k) => (k === 3 ? { ...id, embeddings: id.embeddings.filter((_, i) => i !== 1) } : id)),
  };
  const scratch = trainGallery(without, { eps: 1e-4 });
  let maxDiff = Math.abs(loo.b - scratch.bias[3]);
  for (let j = 0; j < DIM; j++) maxDiff = Math.max(maxDiff, Math.abs(loo.w[j] - scratch.weights[3 * DIM + j]));
  assert.ok(maxDiff < 1e-3, `max difference ${maxDiff}`);
  // And it differs from the full model (the example mattered).
  let change = 0;
  for (let j = 0; j < DIM; j++) change = Math.max(change, Math.abs(loo.w[j] - full.w[j]));
  assert.ok(change > 1e-3, `leave-one-out changed the weights by ${change}`);
});

test('problems: other identities are negatives, enrolled negatives only for their identity, background for all; classes balanced', () => {
  const r = rng(3);
  const { gallery: g0 } = makeWorld(r, 3, 5);
  const g = addNegatives(g0, 'p0', EMBEDDER, [face(r, randomUnit(r)), face(r, randomUnit(r))]);
  const background = [face(r, randomUnit(r)), face(r, randomUnit(r)), face(r, randomUnit(r))];
  const set = buildTrainingSet(g, background);
  assert.equal(set.owner.length, 15 + 2 + 3);
  const o = resolveSvmOptions({ C: 2 });
  const p0 = identityProblem(set, 0, o);
  assert.equal(p0.nPos, 5);
  assert.equal(p0.nNeg, 10 + 2 + 3);
  const p1 = identityProblem(set, 1, o);
  assert.equal(p1.nPos, 5);
  assert.equal(p1.nNeg, 10 + 3, "p0's negatives are not p1's");
  for (let i = 0; i < p1.rows.length; i++) assert.notEqual(set.kind[p1.rows[i]], ROW_NEGATIVE);
  assert.equal(Array.from(p1.rows).filter((row) => set.kind[row] === ROW_BACKGROUND).length, 3);
  // balanced: C+ = C l / (2 n+), C- = C l / (2 n-)
  assert.equal(p0.Cpos, (2 * 20) / (2 * 5));
  assert.equal(p0.Cneg, (2 * 20) / (2 * 15));
  const none = identityProblem(set, 0, resolveSvmOptions({ C: 2, classWeight: 'none' }));
  assert.equal(none.Cpos, 2);
  assert.equal(none.Cneg, 2);
});

test('class weighting keeps few positives from being outvoted', () => {
  const r = rng(21);
  const { gallery, centres } = makeWorld(r, 60, 3, 0.12);
  const balanced = trainGallery(gallery);
  const plain = trainGallery(gallery, { classWeight: 'none' });
  const s = new Float32Array(60);
  let recallBalanced = 0;
  let recallPlain = 0;
  for (let i = 0; i < 300; i++) {
    const k = i % 60;
    const p = face(r, centres[k], 0.12);
    if (scoreAll(balanced, p, s)[k] > 0) recallBalanced++;
    if (scoreAll(plain, p, s)[k] > 0) recallPlain++;
  }
  assert.ok(recallBalanced > recallPlain, `own score > 0: balanced ${recallBalanced}/300, unweighted ${recallPlain}/300`);
});

test('a single identity without negatives falls back to the cosine to its centroid', () => {
  const r = rng(4);
  const { gallery, centres } = makeWorld(r, 1, 4);
  const m = trainGallery(gallery);
  const p = face(r, centres[0]);
  const c = new Float64Array(DIM);
  for (const e of gallery.identities[0].embeddings) for (let j = 0; j < DIM; j++) c[j] += e[j];
  const norm = Math.hypot(...c);
  let cos = 0;
  for (let j = 0; j < DIM; j++) cos += (c[j] / norm) * p[j];
  assert.ok(Math.abs(scoreAll(m, p)[0] - cos) < 1e-5);
  // With background faces it is a real SVM again.
  const withBg = trainGallery(gallery, { background: [face(r, randomUnit(r)), face(r, randomUnit(r))] });
  assert.ok(Math.abs(scoreAll(withBg, p)[0] - cos) > 1e-3);
  assert.equal(withBg.backgroundCount, 2);
});

test('options are validated with clear errors', () => {
  assert.throws(() => resolveSvmOptions({ C: 0 }), /C must be > 0/);
  assert.throws(() => resolveSvmOptions({ loss: 'hinge' as never }), /loss must be "l1" or "l2"/);
  assert.throws(() => resolveSvmOptions({ workingSet: -1 }), /workingSet/);
  const g = makeWorld(rng(1), 2, 2).gallery;
  assert.throws(() => scoreAll(trainGallery(g), new Float32Array(3)), /3 values, 128 expected/);
});

test('identity with an enrolled negative that is a copy of a positive still trains', () => {
  const r = rng(8);
  let g = createGallery({ embedder: EMBEDDER, dim: DIM, metric: 'cosine' });
  const c = randomUnit(r);
  const e = face(r, c);
  g = addIdentity(g, { id: 'x', name: 'X', embedder: EMBEDDER, embeddings: [e, face(r, c)], negatives: [e] }).gallery;
  g = addIdentity(g, { id: 'y', name: 'Y', embedder: EMBEDDER, embeddings: [face(r, randomUnit(r))] }).gallery;
  const m = trainGallery(g);
  assert.ok(Number.isFinite(m.bias[0]) && m.weights.every(Number.isFinite));
});
