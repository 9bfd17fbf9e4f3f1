/**
 * The candidate path (src/match/search/candidates.ts) against the all-identities matcher (buildMatcher): same
 * decisions on the matcher tests' synthetic galleries (test/match/synthetic.ts) and on a small real gallery
 * (lfw-dev faces, mtcnn + faceapi-resnet128; skipped without ../shared).
 */
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { createDetector } from '../../../src/detect/detector';
import { Embedder } from '../../../src/embed/embedder';
import { calibrate } from '../../../src/match/calibrate';
import { addIdentity, addNegatives, createGallery, type Gallery, setThresholds } from '../../../src/match/gallery';
import { buildMatcher, type MatchResult } from '../../../src/match/matcher';
import { CandidateMatcher, embeddingRows } from '../../../src/match/search/candidates';
import { ExactIndex } from '../../../src/match/search/exact-index';
import { AnnIndex, type AnnParams } from '../../../src/match/search/ann-index';
import { type SvmModel, trainGallery } from '../../../src/match/svm';
import { ModelRegistry } from '../../../src/models/registry';
import { embedImages } from '../../../src/pipeline/images';
import { sharedDir, skipWithoutShared } from '../../support/shared';
import { DIM, EMBEDDER, face, lookalike, makeWorld, randomUnit, rng, strangers } from '../synthetic';

/** A small graph for test galleries (hundreds of rows). */
const ANN: AnnParams = { connectivity: 16, expansionAdd: 100, expansionSearch: 64, candidates: 16, quantization: 'i8', threads: 1, discardVariance: 1e-5 };

/**
 * The candidate sources over one gallery: SVM top-2 exact (GEMM) and from the approximate index (HNSW) over the
 * scorers; nearest positives exact and from the approximate index.
 */
async function sources(gallery: Gallery, model: SvmModel, k = 16) {
  const svm = CandidateMatcher.create(gallery, model, {
    kind: 'svm',
    index: await ExactIndex.create(model.weights, gallery.dim, { bias: model.bias, jsMaxRows: 0, chunkRows: 8 }),
  });
  const svmAnn = CandidateMatcher.create(gallery, model, {
    kind: 'svm',
    index: await AnnIndex.buildScored(model.weights, model.bias, gallery.dim, ANN),
    k: 2,
  });
  const rows = embeddingRows(gallery);
  const nearestExact = CandidateMatcher.create(gallery, model, {
    kind: 'embeddings',
    index: await ExactIndex.create(rows.rows, gallery.dim, { jsMaxRows: 0, chunkRows: 64 }),
    owner: rows.owner,
    k,
  });
  const nearestAnn = CandidateMatcher.create(gallery, model, {
    kind: 'embeddings',
    index: await AnnIndex.build(rows.rows, gallery.dim, ANN),
    owner: rows.owner,
    k,
  });
  return { svm, svmAnn, nearestExact, nearestAnn };
}

/**
 * The nearest-positive path's promise: the same acceptances (identity included) for every probe, and the same
 * result (runnerUp aside) whenever the all-identities top identity is among the probe's candidates. A probe whose
 * top SVM identity owns none of the nearest positives is far from it, so both reject it, possibly naming another
 * candidate. Returns how many probes were in that case.
 */
function sameDecisions(name: string, gallery: Gallery, got: MatchResult[], want: MatchResult[], cands: Int32Array[]): number {
  let other = 0;
  got.forEach((g, i) => {
    const w = want[i];
    assert.equal(g.accepted, w.accepted, `${name}: probe ${i} accepted`);
    assert.equal(g.identity, w.identity, `${name}: probe ${i} identity`);
    const k = gallery.identities.findIndex((id) => id.id === w.candidate);
    if (w.candidate === undefined || cands[i].includes(k)) assert.deepEqual(decision(g), decision(w), `${name}: probe ${i}`);
    else {
      assert.equal(w.accepted, false);
      other++;
    }
  });
  return other;
}

/** What the open-set rule decided (runnerUp is diagnostics and depends on which identities were scored). */
function decision(r: MatchResult): Omit<MatchResult, 'runnerUp'> {
  const { runnerUp: _r, ...rest } = r;
  return rest;
}

function tally(results: MatchResult[]): Record<string, number> {
  const t: Record<string, number> = {};
  for (const r of results) t[r.reason] = (t[r.reason] ?? 0) + 1;
  return t;
}

test('synthetic gallery: the candidate path decides exactly as the all-identities matcher', async (t) => {
  const r = rng(4242);
  const { gallery: g0, centres } = makeWorld(r, 30, 5);
  const model = trainGallery(g0);
  const cal = calibrate(g0, model, strangers(r, centres, 600), 0.02);
  const gallery = setThresholds(g0, cal.thresholds);
  const full = buildMatcher(gallery, model);
  const probes = [
    ...Array.from({ length: 150 }, (_, i) => face(r, centres[i % 30])),
    ...Array.from({ length: 60 }, (_, i) => face(r, centres[i % 30], 0.14)), // noisy: some rejected
    ...strangers(r, centres, 200, 0.5, 0.8), // look-alikes close enough to get past the SVM now and then
    new Float32Array(DIM), // invalid
    new Float32Array(7).fill(1), // invalid
  ];
  const want = probes.map((p) => full.match(p));
  const counts = tally(want);
  t.diagnostic(`all-identities matcher: ${JSON.stringify(counts)}`);
  assert.ok(counts.accepted >= 100 && counts['distance-too-large'] + counts['below-svm-threshold'] >= 100, 'probes exercise acceptance and rejection');

  const { svm, svmAnn, nearestExact, nearestAnn } = await sources(gallery, model);
  // SVM top-2 from the GEMM index: identical results, runner-up included; top-4 from HNSW over the scorers too.
  assert.deepEqual(await svm.match(probes), want);
  assert.deepEqual(await svmAnn.match(probes), want);
  for (const [name, cm] of [['nearest positives (exact)', nearestExact], ['nearest positives (HNSW)', nearestAnn]] as const) {
    const other = sameDecisions(name, gallery, await cm.match(probes), want, await cm.candidates(probes));
    t.diagnostic(`${name}: ${other} rejected probes had another (rejected) candidate, their top SVM identity owning none of the 16 nearest positives`);
    assert.ok(other <= 10, `${other} probes named another candidate (2 measured)`);
  }
});

test('the rule runs on the candidates only: a restricted matcher without the true identity does not report it', async () => {
  const r = rng(7);
  const { gallery, centres } = makeWorld(r, 10, 4);
  const model = trainGallery(gallery);
  const loose = setThresholds(gallery, { svm: -100, distance: 10 });
  const cm = CandidateMatcher.create(loose, model, { kind: 'svm', index: await ExactIndex.create(model.weights, DIM, { bias: model.bias }) });
  const probe = face(r, centres[3]);
  const [cands] = await cm.candidates([probe]);
  assert.deepEqual(Array.from(cands).includes(3), true);
  assert.equal(cm.restricted(cands).match(probe).identity, 'p3');
  const without = cm.restricted([0, 1, 2, 4, 5]).match(probe);
  assert.notEqual(without.candidate, 'p3');
  assert.equal(cm.restricted([]).match(probe).reason, 'no-identities');
});

test('tracks: majority, best and mean aggregate over the union of candidates exactly as matchTrack does', async () => {
  const r = rng(55);
  const { gallery: g0, centres } = makeWorld(r, 20, 5);
  const model = trainGallery(g0);
  const gallery = setThresholds(g0, calibrate(g0, model, strangers(r, centres, 400), 0.02).thresholds);
  const full = buildMatcher(gallery, model);
  const { svm, svmAnn, nearestAnn } = await sources(gallery, model);
  let accepted = 0;
  for (let i = 0; i < 60; i++) {
    const c = i % 3 === 0 ? randomUnit(r) : i % 3 === 1 ? lookalike(r, centres[i % 20], 0.6) : centres[i % 20];
    const crops = Array.from({ length: 4 }, () => face(r, c, 0.12));
    if (i === 5) crops.push(new Float32Array(DIM)); // an invalid one is left out by both
    for (const aggregate of ['majority', 'best', 'mean'] as const) {
      const want = full.matchTrack(crops, aggregate);
      if (want.accepted) accepted++;
      assert.deepEqual(await svm.matchTrack(crops, aggregate), want, `track ${i} ${aggregate}`);
      assert.deepEqual(await svmAnn.matchTrack(crops, aggregate), want, `track ${i} ${aggregate} (HNSW scorers)`);
      const viaAnn = await nearestAnn.matchTrack(crops, aggregate);
      assert.equal(viaAnn.accepted, want.accepted, `track ${i} ${aggregate} (HNSW)`);
      assert.equal(viaAnn.identity, want.identity, `track ${i} ${aggregate} (HNSW)`);
    }
  }
  assert.ok(accepted >= 40 && accepted <= 150, `accepted track decisions: ${accepted}/180`);
});

test('enrolled negatives still veto through the candidate path', async () => {
  const r = rng(31);
  const { gallery, centres } = makeWorld(r, 10, 5, 0.07);
  const twin = lookalike(r, centres[0], 0.75);
  const g = setThresholds(addNegatives(gallery, 'p0', EMBEDDER, Array.from({ length: 5 }, () => face(r, twin, 0.07))), { svm: -100, distance: 10 });
  const model = trainGallery(g);
  const full = buildMatcher(g, model);
  const { svm, nearestAnn } = await sources(g, model);
  const probes = [...Array.from({ length: 100 }, () => face(r, twin, 0.07)), ...Array.from({ length: 50 }, () => face(r, centres[0], 0.07))];
  const want = probes.map((p) => full.match(p));
  assert.ok(want.some((x) => x.reason === 'closer-to-negative'));
  assert.deepEqual(await svm.match(probes), want);
  sameDecisions('HNSW', g, await nearestAnn.match(probes), want, await nearestAnn.candidates(probes));
});

test('a model or index that does not fit the gallery is refused', async () => {
  const r = rng(12);
  const { gallery } = makeWorld(r, 3, 2);
  const model = trainGallery(gallery);
  const bigger = addIdentity(gallery, { name: 'New', embedder: EMBEDDER, embeddings: [face(r, randomUnit(r))] }).gallery;
  const index = await ExactIndex.create(model.weights, DIM, { bias: model.bias });
  assert.throws(() => CandidateMatcher.create(bigger, model, { kind: 'svm', index }), /differs from gallery version 4.*retrain/);
  const rows = embeddingRows(gallery);
  const rowIndex = await ExactIndex.create(rows.rows, DIM);
  assert.throws(() => CandidateMatcher.create(gallery, model, { kind: 'svm', index: rowIndex }), /holds 6 rows, the gallery 3 identities/);
  assert.throws(() => CandidateMatcher.create(gallery, model, { kind: 'embeddings', index, owner: rows.owner }), /holds 3 rows, owner lists 6/);
  const none = createGallery({ embedder: EMBEDDER, dim: DIM, metric: 'cosine' });
  const empty = CandidateMatcher.create(none, trainGallery(none), { kind: 'svm', index: await ExactIndex.create(new Float32Array(0), DIM) });
  assert.equal((await empty.match([face(r, randomUnit(r))]))[0].reason, 'no-identities');
});

/** lfw-dev: per identity, the first 3 faces (by file name) enrolled and the rest probed; lfw-dev-unknown probed. */
test('real gallery (lfw-dev, mtcnn + faceapi-resnet128): same decisions as the all-identities matcher', { skip: skipWithoutShared('embed lfw-dev faces'), timeout: 300_000 }, async (t) => {
  const shared = sharedDir()!;
  const registry = new ModelRegistry({});
  let embedder: Embedder;
  try {
    embedder = await Embedder.create(registry.embedder('faceapi-resnet128'));
  } catch (err) {
    t.skip(`faceapi-resnet128 is not set up (${(err as Error).message}); run npm run setup`);
    return;
  }
  const detector = createDetector(registry.detector('mtcnn'));
  const list = (root: string) =>
    readdirSync(root).sort().flatMap((id) => readdirSync(path.join(root, id)).sort().map((f, i) => ({ id, i, file: path.join(root, id, f) })));
  const known = list(path.join(shared, 'data', 'lfw-dev'));
  const unknown = list(path.join(shared, 'data', 'lfw-dev-unknown'));
  let results;
  try {
    results = await embedImages([...known, ...unknown].map((x) => x.file), { detector, embedder, policy: 'central' });
  } finally {
    await embedder.close();
    await detector.close?.();
  }
  const emb = new Map(results.filter((x) => x.embedding).map((x) => [x.file, x.embedding!]));
  let g = createGallery({ embedder: 'faceapi-resnet128', dim: 128, metric: 'euclidean' });
  const probes: Float32Array[] = [];
  for (const id of [...new Set(known.map((x) => x.id))]) {
    const mine = known.filter((x) => x.id === id && emb.has(x.file));
    g = addIdentity(g, { name: id, embedder: 'faceapi-resnet128', embeddings: mine.slice(0, 3).map((x) => emb.get(x.file)!) }).gallery;
    probes.push(...mine.slice(3).map((x) => emb.get(x.file)!));
  }
  const unknownEmb = unknown.filter((x) => emb.has(x.file)).map((x) => emb.get(x.file)!);
  probes.push(...unknownEmb);
  const model = trainGallery(g);
  // Thresholds calibrated on half the unknowns (FPIR 5%), so both outcomes occur among the probes.
  g = setThresholds(g, calibrate(g, model, unknownEmb.slice(0, 20), 0.05).thresholds);
  const want = probes.map((p) => buildMatcher(g, model).match(p));
  t.diagnostic(`${g.identities.length} identities, ${probes.length} probes: ${JSON.stringify(tally(want))}`);
  assert.ok(g.identities.length >= 28 && probes.length >= 90);
  assert.ok(want.filter((x) => x.accepted).length >= 30 && want.filter((x) => !x.accepted).length >= 10);
  const { svm, svmAnn, nearestExact, nearestAnn } = await sources(g, model, 8);
  assert.deepEqual(await svm.match(probes), want);
  assert.deepEqual(await svmAnn.match(probes), want);
  for (const [name, cm] of [['exact', nearestExact], ['HNSW', nearestAnn]] as const) {
    const other = sameDecisions(name, g, await cm.match(probes), want, await cm.candidates(probes));
    t.diagnostic(`nearest positives (${name}), k 8: ${other} rejected probes named another candidate`);
  }
});
