import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { ModelRegistry, sha256File } from '../../src/models/registry';

function userModelDir(descriptor: Record<string, unknown>, files: Record<string, string | Buffer> = {}): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'fs-models-'));
  writeFileSync(path.join(dir, 'custom.model.json'), JSON.stringify(descriptor));
  for (const [name, data] of Object.entries(files)) writeFileSync(path.join(dir, name), data);
  return dir;
}

const embedder = (sha256: string) => ({
  kind: 'embedder',
  name: 'custom-facenet',
  description: 'a user model',
  file: 'custom.onnx',
  sha256,
  obtain: 'export it yourself and put it in --model-dir',
  input: { width: 160, height: 160, layout: 'NCHW', colorOrder: 'RGB', mean: [127.5, 127.5, 127.5], std: [128, 128, 128] },
  output: { size: 512 },
  distance: 'cosine',
  alignment: { template: [[54.7, 73.8], [105.1, 73.5], [80, 102.5], [59.4, 131.9], [101, 131.7]] },
});

test('built-in descriptors load: the defaults and the optional models', () => {
  const names = new ModelRegistry().list().map((d) => d.name).sort();
  for (const n of ['faceapi-resnet128', 'mobilefacenet', 'mtcnn', 'yunet']) assert.ok(names.includes(n), `missing ${n}`);
});

test('a user model is a descriptor in --model-dir, nothing else', () => {
  const dir = userModelDir(embedder('0'.repeat(64)), { 'custom.onnx': 'not really onnx' });
  const reg = new ModelRegistry({ modelDir: dir });
  const d = reg.get('custom-facenet');
  assert.equal(d.kind, 'embedder');
  if (d.kind === 'embedder') {
    assert.equal(d.l2normalize, true, 'defaults applied');
    assert.equal(d.output.size, 512);
  }
});

test('a sha256 mismatch stops loading with the file, the expected hash and how to get it', () => {
  const expected = 'a'.repeat(64);
  const dir = userModelDir(embedder(expected), { 'custom.onnx': 'the wrong bytes' });
  const reg = new ModelRegistry({ modelDir: dir });
  assert.throws(
    () => reg.embedder('custom-facenet'),
    (err: Error) => {
      assert.match(err.message, /custom\.onnx/);
      assert.ok(err.message.includes(expected), err.message);
      assert.ok(err.message.includes(sha256File(path.join(dir, 'custom.onnx'))), 'names the actual hash');
      assert.match(err.message, /export it yourself/);
      return true;
    },
  );
});

test('a missing file names where it looked and how to get it', () => {
  const dir = userModelDir(embedder('b'.repeat(64)));
  assert.throws(() => new ModelRegistry({ modelDir: dir }).embedder('custom-facenet'), /custom\.onnx not found \(looked in .*\)\. Expected sha256 b{64}\. How to get it: export it yourself/);
});

test('a bad descriptor names the key at fault', () => {
  const bad = { ...embedder('c'.repeat(64)), input: { ...embedder('c'.repeat(64)).input, layout: 'NCWH' } };
  assert.throws(() => new ModelRegistry({ modelDir: userModelDir(bad) }), /input\.layout/);
  const typo = { ...embedder('c'.repeat(64)), outptu: { size: 1 } };
  assert.throws(() => new ModelRegistry({ modelDir: userModelDir(typo) }), /outptu/);
  assert.throws(() => new ModelRegistry().get('nope'), /unknown model "nope"; known models: .*faceapi-resnet128/);
});
