/**
 * `facestream eval` end to end through the real CLI: detection, alignment and embedding with the default models,
 * on ../shared LFW data (accuracy figures) and on a generated corpus of bad files (per-file errors, exit 0).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, mkdirSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { projectRoot } from '../../src/util/paths';
import { writeBadImageCorpus } from '../support/bad-images';
import { sharedDir, skipWithoutShared } from '../support/shared';

const run = promisify(execFile);
const cli = path.join(projectRoot(), 'dist', 'src', 'cli', 'main.js');

async function evalJson(args: string[]): Promise<{ json: Record<string, unknown>; stderr: string }> {
  const { stdout, stderr } = await run(process.execPath, [cli, 'eval', ...args, '--json'], { maxBuffer: 64 << 20 });
  const lines = stdout.trim().split('\n');
  assert.equal(lines.length, 1, `--json must print exactly one line on stdout, got:\n${stdout}`);
  return { json: JSON.parse(lines[0]), stderr };
}

/** lfw-dev split: first 3 images (by name) of each identity enrolled, the other 2 probed. */
function splitLfw(lfw: string, into: string): void {
  for (const id of readdirSync(lfw).sort()) {
    const files = readdirSync(path.join(lfw, id)).sort();
    files.forEach((f, i) => {
      const dir = path.join(into, i < 3 ? 'gallery' : 'probes', id);
      mkdirSync(dir, { recursive: true });
      symlinkSync(path.join(lfw, id, f), path.join(dir, f));
    });
  }
}

/** An LFW-format pairs.txt over lfw-dev: 10 folds x (15 same + 15 different). */
function writePairs(lfw: string, file: string): void {
  const ids = readdirSync(lfw).sort();
  const num = (id: string, f: string) => Number(/_(\d{4})\.jpg$/.exec(f)![1]);
  const lines: string[] = ['10\t15'];
  let s = 0;
  let d = 0;
  for (let fold = 0; fold < 10; fold++) {
    for (let k = 0; k < 15; k++, s++) {
      const id = ids[s % ids.length];
      const files = readdirSync(path.join(lfw, id)).sort();
      const a = Math.floor(s / ids.length) % files.length;
      const b = (a + 1 + (Math.floor(s / (ids.length * files.length)) % (files.length - 1))) % files.length;
      lines.push(`${id}\t${num(id, files[a])}\t${num(id, files[b])}`);
    }
    for (let k = 0; k < 15; k++, d++) {
      const id1 = ids[d % ids.length];
      const id2 = ids[(d + 1 + (Math.floor(d / ids.length) % (ids.length - 1))) % ids.length];
      const f1 = readdirSync(path.join(lfw, id1)).sort()[d % 5];
      const f2 = readdirSync(path.join(lfw, id2)).sort()[(d + 2) % 5];
      lines.push(`${id1}\t${num(id1, f1)}\t${id2}\t${num(id2, f2)}`);
    }
  }
  writeFileSync(file, `${lines.join('\n')}\n`);
}

test('eval on lfw-dev with the default models: rank-1 >= 97%, FNIR at FPIR 1% and verification reported', { skip: skipWithoutShared('evaluate on lfw-dev'), timeout: 600_000 }, async () => {
  const shared = sharedDir()!;
  const lfw = path.join(shared, 'data', 'lfw-dev');
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'fs-eval-'));
  splitLfw(lfw, tmp);
  writePairs(lfw, path.join(tmp, 'pairs.txt'));
  const { json, stderr } = await evalJson([
    '--gallery', path.join(tmp, 'gallery'),
    '--probes', path.join(tmp, 'probes'),
    '--unknown', path.join(shared, 'data', 'lfw-dev-unknown'),
    '--pairs', path.join(tmp, 'pairs.txt'),
    '--images', lfw,
  ]);
  console.log(`eval lfw-dev (mtcnn + faceapi-resnet128): ${JSON.stringify({ rank1: json.rank1, fnir_at_fpir_1pct: json.fnir_at_fpir_1pct, verification_accuracy: json.verification_accuracy, faces_not_found: json.faces_not_found, images_per_s: json.throughput_images_per_s })}`);
  assert.match(stderr, /\[eval\] \d+\/\d+ images/, 'progress lines on stderr');
  // 190 gallery/probe/unknown paths plus the lfw-dev paths that pairs.txt names.
  assert.ok((json.images as number) >= 190, `images ${json.images}`);
  assert.equal(json.detector, 'mtcnn');
  assert.equal(json.embedder, 'faceapi-resnet128');
  assert.ok((json.faces_not_found as number) <= 2, `faces not found: ${json.faces_not_found}`);
  assert.ok((json.rank1 as number) >= 0.97, `rank-1 ${json.rank1} < 0.97`);
  assert.equal(typeof json.fnir_at_fpir_1pct, 'number');
  assert.ok((json.fnir_at_fpir_1pct as number) >= 0 && (json.fnir_at_fpir_1pct as number) <= 1);
  assert.equal(typeof json.verification_accuracy, 'number');
  assert.ok((json.verification_accuracy as number) >= 0.9, `verification accuracy ${json.verification_accuracy}`);
  assert.equal(json.verification_pairs_skipped, 0);
});

test('eval on a corpus of bad files: each is reported with its error and the run exits normally', { timeout: 300_000 }, async () => {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'fs-eval-bad-'));
  const demo = path.join(path.dirname(require.resolve('@vladmandic/face-api/package.json')), 'demo');
  // Gallery and good probes from face-api's demo photos (registry data), so this runs without ../shared.
  for (const [id, n] of [['a', 1], ['b', 2]] as const) {
    mkdirSync(path.join(tmp, 'gallery', id), { recursive: true });
    symlinkSync(path.join(demo, `sample${n}.jpg`), path.join(tmp, 'gallery', id, `sample${n}.jpg`));
  }
  mkdirSync(path.join(tmp, 'probes', 'a'), { recursive: true });
  symlinkSync(path.join(demo, 'sample1.jpg'), path.join(tmp, 'probes', 'a', 'again.jpg'));
  const bad = writeBadImageCorpus(path.join(tmp, 'probes'), 'b');
  assert.ok(bad.length >= 12);
  const { json } = await evalJson(['--gallery', path.join(tmp, 'gallery'), '--probes', path.join(tmp, 'probes')]);
  const errors = json.errors as { file: string; code: string; message: string }[];
  const skipped = json.skipped_files as { file: string; reason: string }[];
  for (const b of bad) {
    if (b.code === 'unsupported-format' && /\.(gif|svg)$/.test(b.file)) {
      // Not an image by its extension: listed as skipped, with the reason, instead of decoded.
      const s = skipped.find((x) => x.file === b.file);
      assert.ok(s, `${b.file} is neither an error nor skipped`);
      assert.match(s.reason, /not an image/);
      continue;
    }
    const e = errors.find((x) => x.file === b.file);
    assert.ok(e, `no error reported for ${b.file}`);
    assert.equal(e.code, b.code, `${b.file}: ${e.message}`);
    assert.ok(e.message.includes(path.basename(b.file)), `message names the file: ${e.message}`);
  }
  assert.equal(json.images, 3 + bad.filter((b) => !/\.(gif|svg)$/.test(b.file)).length);
  assert.equal(json.rank1, 1, 'the good probe is still identified');
});
