import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { DatasetError, readEvalFolder, splitFolder } from '../../src/eval/dataset';
import { projectRoot } from '../../src/util/paths';

let root: string;
before(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'facestream-dataset-'));
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

/** Creates empty files (the dataset readers never open images). */
async function touch(base: string, files: string[]): Promise<void> {
  for (const f of files) {
    await mkdir(path.dirname(path.join(base, f)), { recursive: true });
    await writeFile(path.join(base, f), '');
  }
}

describe('readEvalFolder (gallery/ probes/ unknown/)', () => {
  test('lists images by identity, sorted; other entries are reported, not fatal', async () => {
    const d = path.join(root, 'layout');
    await touch(d, [
      'gallery/bob/b1.jpg', 'gallery/alice/a2.PNG', 'gallery/alice/a1.jpg', 'gallery/alice/notes.txt', 'gallery/stray.jpg',
      'gallery/zed/z1.webp', 'probes/alice/p1.jpeg', 'probes/bob/p2.bmp', 'probes/bob/.DS_Store', 'unknown/carol/c1.tif',
      'gallery/empty/readme.md',
    ]);
    const ds = await readEvalFolder(d);
    assert.equal(ds.layout, 'gallery-probes');
    const rel = (xs: { label: string; file: string }[]): string[][] => xs.map((x) => [x.label, path.relative(d, x.file)]);
    assert.deepEqual(rel(ds.gallery), [
      ['alice', 'gallery/alice/a1.jpg'], ['alice', 'gallery/alice/a2.PNG'], ['bob', 'gallery/bob/b1.jpg'], ['zed', 'gallery/zed/z1.webp'],
    ]);
    assert.deepEqual(rel(ds.probes), [['alice', 'probes/alice/p1.jpeg'], ['bob', 'probes/bob/p2.bmp']]);
    assert.deepEqual(rel(ds.unknown), [['carol', 'unknown/carol/c1.tif']]);
    assert.deepEqual(ds.skipped.map((s) => path.relative(d, s.file)).sort(), [
      'gallery/alice/notes.txt', 'gallery/empty', 'gallery/empty/readme.md', 'gallery/stray.jpg', 'probes/bob/.DS_Store',
    ]);
    assert.match(ds.skipped.find((s) => s.file.endsWith('stray.jpg'))!.reason, /identity folder/);
    assert.ok(ds.notes.some((n) => /zed/.test(n)), 'zed has no probes');
  });

  test('structural problems are errors that name the folder', async () => {
    const d = path.join(root, 'bad1');
    await touch(d, ['gallery/alice/a.jpg', 'probes/alice/p.jpg', 'probes/dave/p.jpg']);
    await assert.rejects(readEvalFolder(d), (e: unknown) => e instanceof DatasetError && /dave/.test(e.message) && /unknown\//.test(e.message));

    const d2 = path.join(root, 'bad2');
    await touch(d2, ['gallery/alice/a.jpg', 'probes/alice/p.jpg', 'unknown/alice/u.jpg']);
    await assert.rejects(readEvalFolder(d2), /unknown\/ has identities that are enrolled in gallery\/: alice/);

    const d3 = path.join(root, 'bad3');
    await touch(d3, ['probes/alice/p.jpg']);
    await assert.rejects(readEvalFolder(d3), (e: unknown) => e instanceof DatasetError && e.message.includes(path.join(d3, 'gallery')) && /does not exist/.test(e.message));

    await assert.rejects(readEvalFolder(path.join(root, 'nope')), /does not exist/);
    const d4 = path.join(root, 'bad4');
    await touch(d4, ['gallery/alice/a.jpg', 'probes/alice/p.jpg']);
    const noUnknown = await readEvalFolder(d4);
    assert.deepEqual(noUnknown.unknown, []);
    assert.ok(noUnknown.notes.some((n) => /open-set/.test(n)));
  });
});

describe('splitFolder (flat <id>/* tree)', () => {
  test('first k images by name are enrolled, the rest are probes; deterministic', async () => {
    const d = path.join(root, 'flat');
    // Created out of order on purpose.
    await touch(d, ['Ann/Ann_0004.jpg', 'Ann/Ann_0002.jpg', 'Ann/Ann_0005.jpg', 'Ann/Ann_0001.jpg', 'Ann/Ann_0003.jpg',
      'Bo/Bo_0002.jpg', 'Bo/Bo_0001.jpg', 'Bo/info.txt']);
    await touch(path.join(root, 'flat-unknown'), ['Cy/Cy_0001.jpg']);
    const ds = await splitFolder(d, { enrol: 3, unknownDir: path.join(root, 'flat-unknown') });
    const names = (xs: { file: string }[]): string[] => xs.map((x) => path.basename(x.file));
    assert.deepEqual(names(ds.gallery), ['Ann_0001.jpg', 'Ann_0002.jpg', 'Ann_0003.jpg', 'Bo_0001.jpg', 'Bo_0002.jpg']);
    assert.deepEqual(names(ds.probes), ['Ann_0004.jpg', 'Ann_0005.jpg']);
    assert.deepEqual(ds.unknown.map((u) => u.label), ['Cy']);
    assert.ok(ds.notes.some((n) => /Bo/.test(n)), 'Bo has too few images for probes');
    assert.deepEqual(ds.skipped.map((s) => path.basename(s.file)), ['info.txt']);
    assert.deepEqual(await splitFolder(d, { enrol: 3, unknownDir: path.join(root, 'flat-unknown') }), ds);
  });

  test('bad options and overlapping unknown identities are errors', async () => {
    const d = path.join(root, 'flat');
    await assert.rejects(splitFolder(d, { enrol: 0 }), DatasetError);
    await touch(path.join(root, 'flat-overlap'), ['Ann/x.jpg']);
    await assert.rejects(splitFolder(d, { enrol: 3, unknownDir: path.join(root, 'flat-overlap') }), /enrolled from .*: Ann/);
  });

  test('LFW development subset (shared data)', async (t) => {
    const shared = process.env.FACESTREAM_SHARED_DIR ?? path.resolve(projectRoot(), '..', 'shared');
    const lfw = path.join(shared, 'data', 'lfw-dev');
    if (!existsSync(lfw)) {
      t.skip(`${lfw} is absent (set FACESTREAM_SHARED_DIR)`);
      return;
    }
    const ds = await splitFolder(lfw, { enrol: 3, unknownDir: path.join(shared, 'data', 'lfw-dev-unknown') });
    assert.equal(new Set(ds.gallery.map((g) => g.label)).size, 30);
    assert.equal(ds.gallery.length, 90);
    assert.equal(ds.probes.length, 60);
    assert.equal(ds.unknown.length, 40);
    assert.ok(ds.probes.every((p) => /_000[45]\.jpg$/.test(p.file)));
  });
});
