import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  DEFAULT_WATCHLIST,
  addEmbeddings,
  addIdentity,
  addNegatives,
  addToWatchlist,
  createGallery,
  createWatchlist,
  deleteWatchlist,
  isOnActiveWatchlist,
  removeFromWatchlist,
  removeIdentity,
  setThresholds,
  setWatchlistActive,
  slugify,
} from '../../src/match/gallery';
import { DIM, EMBEDDER, face, randomUnit, rng } from './synthetic';

const r = rng(1);
const e = () => face(r, randomUnit(r));
const empty = () => createGallery({ embedder: EMBEDDER, dim: DIM, metric: 'cosine' });

test('enrolment puts the identity on the active default watchlist and bumps the version', () => {
  const g0 = empty();
  assert.equal(g0.version, 0);
  assert.deepEqual(g0.watchlists, [{ name: DEFAULT_WATCHLIST, identities: [], active: true }]);
  const { gallery: g1, identity } = addIdentity(g0, { name: 'Jane Doe', embedder: EMBEDDER, embeddings: [e(), e()] });
  assert.equal(identity.id, 'jane-doe');
  assert.equal(g1.version, 1);
  assert.deepEqual(isOnActiveWatchlist(g1, 'jane-doe'), ['default']);
  assert.equal(g0.identities.length, 0, 'the input gallery is not modified');
  assert.equal(g0.watchlists[0].identities.length, 0);
  // A second Jane Doe gets a distinct slug.
  const g2 = addIdentity(g1, { name: 'Jane  DOE', embedder: EMBEDDER, embeddings: [e()] }).gallery;
  assert.deepEqual(g2.identities.map((i) => i.id), ['jane-doe', 'jane-doe-2']);
  assert.equal(g2.version, 2);
});

test('enrolled embeddings are stored L2-normalised copies', () => {
  const raw = Float32Array.from({ length: DIM }, (_, i) => (i === 0 ? 3 : i === 1 ? 4 : 0));
  const { identity } = addIdentity(empty(), { name: 'A', embedder: EMBEDDER, embeddings: [raw] });
  assert.notEqual(identity.embeddings[0], raw);
  assert.ok(Math.abs(identity.embeddings[0][0] - 0.6) < 1e-7 && Math.abs(identity.embeddings[0][1] - 0.8) < 1e-7);
  assert.equal(raw[0], 3, 'input untouched');
});

test('embeddings of another model, wrong length, zero or NaN are refused', () => {
  const g = empty();
  assert.throws(() => addIdentity(g, { name: 'A', embedder: 'mobilefacenet', embeddings: [e()] }), /model "mobilefacenet" refused.*"synthetic-128"/);
  assert.throws(() => addIdentity(g, { name: 'A', embedder: EMBEDDER, embeddings: [new Float32Array(512).fill(1)] }), /512 values, 128 expected/);
  assert.throws(() => addIdentity(g, { name: 'A', embedder: EMBEDDER, embeddings: [new Float32Array(DIM)] }), /all zeros/);
  assert.throws(() => addIdentity(g, { name: 'A', embedder: EMBEDDER, embeddings: [new Float32Array(DIM).fill(NaN)] }), /non-finite/);
  assert.throws(() => addIdentity(g, { name: 'A', embedder: EMBEDDER, embeddings: [] }), /at least one embedding/);
  assert.throws(() => addIdentity(g, { name: ' ', embedder: EMBEDDER, embeddings: [e()] }), /name must not be empty/);
  assert.throws(() => addIdentity(g, { name: 'A', id: 'Not A Slug', embedder: EMBEDDER, embeddings: [e()] }), /not a slug/);
  const g1 = addIdentity(g, { name: 'A', id: 'a', embedder: EMBEDDER, embeddings: [e()] }).gallery;
  assert.throws(() => addIdentity(g1, { name: 'B', id: 'a', embedder: EMBEDDER, embeddings: [e()] }), /"a" already exists/);
  assert.throws(() => addEmbeddings(g1, 'a', 'other', [e()]), /refused/);
  assert.throws(() => addEmbeddings(g1, 'zz', EMBEDDER, [e()]), /unknown identity "zz"/);
});

test('adding embeddings and negatives replaces only that identity and bumps the version', () => {
  let g = addIdentity(empty(), { name: 'A', embedder: EMBEDDER, embeddings: [e()] }).gallery;
  g = addIdentity(g, { name: 'B', embedder: EMBEDDER, embeddings: [e()] }).gallery;
  const before = g;
  g = addEmbeddings(g, 'a', EMBEDDER, [e(), e()]);
  assert.equal(g.version, before.version + 1);
  assert.equal(g.identities[0].embeddings.length, 3);
  assert.equal(before.identities[0].embeddings.length, 1);
  assert.equal(g.identities[1], before.identities[1], 'other identities keep their object');
  g = addNegatives(g, 'b', EMBEDDER, [e()]);
  assert.equal(g.identities[1].negatives.length, 1);
  assert.equal(g.version, before.version + 2);
});

test('watchlists: create, add, remove, activate; only active ones alert; removal cleans up', () => {
  let g = empty();
  for (const name of ['Ann', 'Bob', 'Cy']) g = addIdentity(g, { name, embedder: EMBEDDER, embeddings: [e()] }).gallery;
  const identities = g.identities;
  g = createWatchlist(g, 'vip', { active: false, identities: ['ann'] });
  g = addToWatchlist(g, 'vip', ['bob', 'ann']);
  assert.deepEqual(g.watchlists.find((w) => w.name === 'vip')?.identities, ['ann', 'bob']);
  assert.deepEqual(isOnActiveWatchlist(g, 'ann'), ['default']);
  g = setWatchlistActive(g, 'vip', true);
  assert.deepEqual(isOnActiveWatchlist(g, 'ann'), ['default', 'vip']);
  g = setWatchlistActive(g, DEFAULT_WATCHLIST, false);
  assert.deepEqual(isOnActiveWatchlist(g, 'cy'), []);
  assert.deepEqual(isOnActiveWatchlist(g, 'bob'), ['vip']);
  g = removeFromWatchlist(g, 'vip', ['bob']);
  assert.deepEqual(isOnActiveWatchlist(g, 'bob'), []);
  assert.equal(g.identities, identities, 'watchlist changes keep the identities array (no retraining needed)');
  // A deactivated default stays deactivated when someone new is enrolled.
  g = addIdentity(g, { name: 'Dee', embedder: EMBEDDER, embeddings: [e()] }).gallery;
  assert.deepEqual(isOnActiveWatchlist(g, 'dee'), []);
  assert.ok(g.watchlists.find((w) => w.name === DEFAULT_WATCHLIST)?.identities.includes('dee'));
  g = removeIdentity(g, 'ann');
  assert.ok(g.watchlists.every((w) => !w.identities.includes('ann')));
  assert.throws(() => createWatchlist(g, 'vip'), /already exists/);
  assert.throws(() => addToWatchlist(g, 'vip', ['nobody']), /unknown identity "nobody"/);
  assert.throws(() => setWatchlistActive(g, 'nope', true), /unknown watchlist "nope"/);
  g = deleteWatchlist(g, 'vip');
  assert.equal(g.watchlists.length, 1);
  // Deleting the default list then enrolling recreates it, active.
  g = addIdentity(deleteWatchlist(g, DEFAULT_WATCHLIST), { name: 'Eve', embedder: EMBEDDER, embeddings: [e()] }).gallery;
  assert.deepEqual(isOnActiveWatchlist(g, 'eve'), ['default']);
});

test('thresholds are stored with a version bump and validated', () => {
  const g = setThresholds(empty(), { svm: 0.3, distance: 0.5, targetFpir: 0.01 });
  assert.equal(g.version, 1);
  assert.equal(g.thresholds.svm, 0.3);
  assert.throws(() => setThresholds(g, { svm: NaN, distance: 0.5 }), /invalid thresholds/);
});

test('slugify', () => {
  assert.equal(slugify("Zoë O'Brien-Smith"), 'zoe-o-brien-smith');
  assert.equal(slugify('  ***  '), 'person');
  assert.equal(slugify('李雷'), 'person');
});

test('createGallery validates its arguments', () => {
  assert.throws(() => createGallery({ embedder: 'x', dim: 0, metric: 'cosine' }), /dim must be a positive integer/);
  assert.throws(() => createGallery({ embedder: 'x', dim: 4, metric: 'l1' as never }), /metric/);
  assert.ok(Math.abs(createGallery({ embedder: 'x', dim: 4, metric: 'euclidean' }).thresholds.distance - Math.sqrt(0.8)) < 1e-12);
});
