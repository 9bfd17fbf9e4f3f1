/** TF.js weights-manifest reading: dequantisation and the errors for broken model directories. */
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { readTfjsWeights } from '../../src/models/convert/tfjs-weights';

const FACEAPI_MODEL_DIR = path.join(path.dirname(require.resolve('@vladmandic/face-api/package.json')), 'model');
const NAME = 'face_recognition_model';

describe('readTfjsWeights', () => {
  const dirs: string[] = [];
  const tmp = (): string => {
    const d = mkdtempSync(path.join(os.tmpdir(), 'facestream-tfjs-'));
    dirs.push(d);
    return d;
  };
  after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

  test('dequantises uint8 and uint16 (v * scale + min), reads float32, across two shards', () => {
    const dir = tmp();
    const manifest = [
      {
        paths: ['m.bin', 'm2.bin'],
        weights: [
          { name: 'a', shape: [2, 2], dtype: 'float32', quantization: { dtype: 'uint8', scale: 0.5, min: -1 } },
          { name: 'b', shape: [3], dtype: 'float32', quantization: { dtype: 'uint16', scale: 0.25, min: 2 } },
          { name: 'c', shape: [2], dtype: 'float32' },
        ],
      },
    ];
    writeFileSync(path.join(dir, 'm-weights_manifest.json'), JSON.stringify(manifest));
    const bytes = Buffer.alloc(4 + 6 + 8);
    [0, 1, 2, 255].forEach((v, i) => bytes.writeUInt8(v, i));
    [0, 4, 65535].forEach((v, i) => bytes.writeUInt16LE(v, 4 + i * 2));
    [1.5, -3.25].forEach((v, i) => bytes.writeFloatLE(v, 10 + i * 4));
    writeFileSync(path.join(dir, 'm.bin'), bytes.subarray(0, 7)); // a shard boundary inside weight b
    writeFileSync(path.join(dir, 'm2.bin'), bytes.subarray(7));

    const w = readTfjsWeights(dir, 'm');
    assert.deepEqual([...w.keys()], ['a', 'b', 'c']);
    assert.deepEqual(w.get('a')!.shape, [2, 2]);
    assert.deepEqual([...w.get('a')!.data], [-1, -0.5, 0, 126.5]);
    assert.deepEqual([...w.get('b')!.data], [2, 3, 65535 * 0.25 + 2]);
    assert.deepEqual([...w.get('c')!.data], [1.5, -3.25]);
  });

  test("reads face-api's face recognition weights (117 tensors, fc 256x128)", () => {
    const w = readTfjsWeights(FACEAPI_MODEL_DIR, NAME);
    assert.equal(w.size, 117);
    assert.deepEqual(w.get('fc')!.shape, [256, 128]);
    assert.deepEqual(w.get('conv32_down/conv/filters')!.shape, [7, 7, 3, 32]);
    // conv64_1/conv1/conv/filters is stored as plain float32: spot-check it against the raw shard bytes.
    const manifest = JSON.parse(readFileSync(path.join(FACEAPI_MODEL_DIR, `${NAME}-weights_manifest.json`), 'utf8'));
    const specs = manifest[0].weights as { name: string; shape: number[]; quantization?: { dtype: string } }[];
    let offset = 0;
    for (const s of specs) {
      if (s.name === 'conv64_1/conv1/conv/filters') break;
      offset += s.shape.reduce((a, b) => a * b, 1) * (s.quantization ? 1 : 4);
    }
    const bin = readFileSync(path.join(FACEAPI_MODEL_DIR, `${NAME}.bin`));
    assert.equal(w.get('conv64_1/conv1/conv/filters')!.data[5], bin.readFloatLE(offset + 20));
  });

  test('a missing shard is an error naming the file', () => {
    const dir = tmp();
    copyFileSync(path.join(FACEAPI_MODEL_DIR, `${NAME}-weights_manifest.json`), path.join(dir, `${NAME}-weights_manifest.json`));
    assert.throws(
      () => readTfjsWeights(dir, NAME),
      (err: Error) => err.message.includes('shard missing') && err.message.includes(path.join(dir, `${NAME}.bin`)),
    );
  });

  test('a truncated shard is an error giving both sizes', () => {
    const dir = tmp();
    copyFileSync(path.join(FACEAPI_MODEL_DIR, `${NAME}-weights_manifest.json`), path.join(dir, `${NAME}-weights_manifest.json`));
    writeFileSync(path.join(dir, `${NAME}.bin`), readFileSync(path.join(FACEAPI_MODEL_DIR, `${NAME}.bin`)).subarray(0, 1000));
    assert.throws(() => readTfjsWeights(dir, NAME), /face_recognition_model\.bin hold 1000 bytes, .* describes 6444032/);
  });

  test('a missing manifest and an unsupported dtype are errors naming what is wrong', () => {
    const dir = tmp();
    assert.throws(() => readTfjsWeights(dir, 'nope'), /manifest not found: .*nope-weights_manifest\.json/);
    writeFileSync(
      path.join(dir, 'h-weights_manifest.json'),
      JSON.stringify([{ paths: ['h.bin'], weights: [{ name: 'x', shape: [1], dtype: 'float32', quantization: { dtype: 'float16' } }] }]),
    );
    writeFileSync(path.join(dir, 'h.bin'), Buffer.alloc(2));
    assert.throws(() => readTfjsWeights(dir, 'h'), /weight x: unsupported quantization dtype "float16"/);
  });
});
