import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { type Gallery, addNegatives, createWatchlist, setThresholds } from '../../src/match/gallery';
import { STORE_FILE, decodeGallery, encodeGallery, openStore } from '../../src/match/store';
import { EMBEDDER, face, makeWorld, randomUnit, rng } from './synthetic';

async function tmpdir(): Promise<string> {
  return fs.mkdtemp(path.join(os.tmpdir(), 'facestream-store-'));
}

function sample(): Gallery {
  const r = rng(9);
  let g = makeWorld(r, 6, 3).gallery;
  g = addNegatives(g, 'p2', EMBEDDER, [face(r, randomUnit(r))]);
  g = createWatchlist(g, 'night shift', { active: false, identities: ['p1', 'p2'] });
  g = setThresholds(g, { svm: 0.25, distance: 0.61, targetFpir: 0.01, achievedFpir: 0.008, calibratedAt: '2025-03-01T00:00:00.000Z', calibrationSize: 1000 });
  return g;
}

function assertSameGallery(a: Gallery, b: Gallery): void {
  const strip = (g: Gallery) => ({ ...g, identities: g.identities.map((i) => ({ ...i, embeddings: i.embeddings.map((e) => Array.from(e)), negatives: i.negatives.map((e) => Array.from(e)) })) });
  assert.deepEqual(strip(a), strip(b));
  for (const i of b.identities) for (const e of [...i.embeddings, ...i.negatives]) assert.ok(e instanceof Float32Array);
}

test('round trip: everything comes back bit-exact', async () => {
  const dir = await tmpdir();
  try {
    const store = await openStore(path.join(dir, 'gallery'));
    assert.equal(await store.load(), undefined, 'no gallery saved yet');
    const g = sample();
    await store.save(g);
    const back = await (await openStore(path.join(dir, 'gallery'))).load();
    assert.ok(back);
    assertSameGallery(g, back);
    // Compact: 4 bytes a value plus a small header.
    const floats = g.identities.reduce((n, i) => n + (i.embeddings.length + i.negatives.length) * g.dim, 0);
    const size = (await fs.stat(store.file)).size;
    assert.ok(size < floats * 4 + 4096, `${size} bytes for ${floats} floats`);
    // Saving again replaces it; no temporary file is left behind.
    const g2 = setThresholds(back, { svm: 0.3, distance: 0.6 });
    await store.save(g2);
    assert.equal((await store.load())?.thresholds.svm, 0.3);
    assert.deepEqual(await fs.readdir(store.dir), [STORE_FILE]);
    // A NaN optional figure (no genuine probes) is left out, not written as null.
    await store.save(setThresholds(back, { svm: 0.3, distance: 0.6, estimatedFnir: NaN }));
    const t = (await store.load())!.thresholds;
    assert.equal(t.estimatedFnir, undefined);
    assert.equal(t.distance, 0.6);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});

test('the directory is 0700 and the file 0600, whatever the umask or the previous modes', async () => {
  const dir = await tmpdir();
  const old = process.umask(0);
  try {
    const fresh = await openStore(path.join(dir, 'a', 'b'));
    assert.equal((await fs.stat(fresh.dir)).mode & 0o777, 0o700);
    await fresh.save(sample());
    assert.equal((await fs.stat(fresh.file)).mode & 0o777, 0o600);
    // A pre-existing open directory and a world-readable file are tightened.
    const open = path.join(dir, 'open');
    await fs.mkdir(open, { mode: 0o755 });
    await fs.writeFile(path.join(open, STORE_FILE), encodeGallery(sample()), { mode: 0o644 });
    await fs.chmod(path.join(open, STORE_FILE), 0o644);
    const s = await openStore(open);
    assert.equal((await fs.stat(open)).mode & 0o777, 0o700);
    assert.equal((await fs.stat(s.file)).mode & 0o777, 0o600);
    await fs.chmod(open, 0o755);
    await s.save(sample());
    assert.equal((await fs.stat(open)).mode & 0o777, 0o700, 'save re-tightens the directory');
    assert.equal((await fs.stat(s.file)).mode & 0o777, 0o600);
  } finally {
    process.umask(old);
    await fs.rm(dir, { recursive: true, force: true });
  }
});

test('corrupt files are refused with a message naming the file and the fault', async () => {
  const dir = await tmpdir();
  try {
    const store = await openStore(dir);
    await store.save(sample());
    const good = await fs.readFile(store.file);
    const cases: [string, Buffer, RegExp][] = [
      ['flipped byte', Buffer.from(good).fill(0x55, 4000, 4001), /checksum mismatch/],
      ['truncated', good.subarray(0, good.length - 100), /checksum mismatch/],
      ['too short', good.subarray(0, 10), /too short/],
      ['not a gallery', Buffer.from('{"hello": "world"}'.padEnd(100, ' ')), /bad magic/],
      ['empty', Buffer.alloc(0), /too short/],
    ];
    const future = Buffer.from(good);
    future.writeUInt32LE(99, 8);
    cases.push(['future format', future, /format version 99; this facestream reads version 1/]);
    for (const [what, bytes, expected] of cases) {
      await fs.writeFile(store.file, bytes);
      await assert.rejects(store.load(), (e: Error) => {
        assert.match(e.message, expected, what);
        assert.ok(e.message.includes(store.file), `${what}: names the file`);
        return true;
      });
    }
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});

test('a header that parses but is inconsistent is refused (schema, row ranges, dangling watchlists)', () => {
  const g = sample();
  const rebuild = (mutate: (h: Record<string, any>) => void): Buffer => {
    // Re-encode with a modified header and a valid checksum, as a buggy writer would.
    const buf = encodeGallery(g);
    const len = buf.readUInt32LE(12);
    const header = JSON.parse(buf.subarray(16, 16 + len).toString('utf8'));
    mutate(header);
    const json = Buffer.from(JSON.stringify(header));
    const pad = (4 - ((16 + json.length) % 4)) % 4;
    const oldFloatsAt = 16 + len + ((4 - ((16 + len) % 4)) % 4);
    const floats = buf.subarray(oldFloatsAt, buf.length - 32);
    const out = Buffer.alloc(16 + json.length + pad + floats.length + 32);
    buf.copy(out, 0, 0, 12);
    out.writeUInt32LE(json.length, 12);
    json.copy(out, 16);
    floats.copy(out, 16 + json.length + pad);
    createHash('sha256').update(out.subarray(0, out.length - 32)).digest().copy(out, out.length - 32);
    return out;
  };
  assert.doesNotThrow(() => decodeGallery(rebuild(() => undefined), 'x'));
  assert.throws(() => decodeGallery(rebuild((h) => (h.gallery.metric = 'manhattan')), 'x'), /gallery\.metric/);
  assert.throws(() => decodeGallery(rebuild((h) => (h.gallery.identities[0].embeddings = [0, 999])), 'x'), /refers to rows/);
  assert.throws(() => decodeGallery(rebuild((h) => h.gallery.watchlists[0].identities.push('ghost')), 'x'), /unknown identity "ghost"/);
  assert.throws(() => decodeGallery(rebuild((h) => (h.gallery.identities[1].id = 'p0')), 'x'), /"p0" appears twice/);
  assert.throws(() => decodeGallery(rebuild((h) => (h.rows = 5)), 'x'), /bytes, \d+ expected/);
});

test('temporary files left by a crash are removed on open', async () => {
  const dir = await tmpdir();
  try {
    await fs.writeFile(path.join(dir, `.${STORE_FILE}.123.abc.tmp`), 'partial');
    await fs.writeFile(path.join(dir, 'unrelated.txt'), 'keep');
    await openStore(dir);
    assert.deepEqual((await fs.readdir(dir)).sort(), ['unrelated.txt']);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});
