import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as ort from 'onnxruntime-node';
import { distance, Embedder } from '../../src/embed/embedder';
import { inputDims, toTensor } from '../../src/embed/preprocess';
import { ModelMismatchError } from '../../src/embed/session';
import type { EmbedderDescriptor } from '../../src/models/descriptor';
import { ModelRegistry, ResolvedEmbedder } from '../../src/models/registry';
import {
  descriptor,
  l2,
  maxAbsDiff,
  MOBILEFACENET,
  mobilefacenetDescriptor,
  normalized,
  randomCrops,
  rawRun,
  SKIP_NO_SHARED,
  tempDir,
} from './helpers';
import { writeSyntheticEmbedder } from './onnx-fixture';

const W = 24;
const H = 20;
const dir = tempDir();
after(() => rmSync(dir, { recursive: true, force: true }));
const dynamicModel = path.join(dir, 'synthetic-dynamic.onnx');
const fixed4Model = path.join(dir, 'synthetic-fixed4.onnx');
writeSyntheticEmbedder(dynamicModel, { width: W, height: H, outSize: 16 });
writeSyntheticEmbedder(fixed4Model, { width: W, height: H, outSize: 16, fixedBatch: 4 });
const base = descriptor({
  input: { width: W, height: H, layout: 'NHWC', colorOrder: 'RGB', mean: [127.5, 120, 110], std: [64, 60, 70] },
  output: { size: 16 },
});

/** Reference: preprocess on this thread and run onnxruntime directly, one crop at a time. */
async function reference(d: EmbedderDescriptor, file: string, crops: ReturnType<typeof randomCrops>): Promise<Float32Array[]> {
  const s = await ort.InferenceSession.create(file);
  const out: Float32Array[] = [];
  for (const c of crops) {
    let e = await rawRun(s, toTensor([c], d), inputDims(d, 1));
    if (d.flipAugment) {
      const f = await rawRun(s, toTensor([c], d, { flip: true }), inputDims(d, 1));
      e = e.map((v, i) => v + f[i]);
    }
    out.push(d.l2normalize ? normalized(e) : e);
  }
  await s.release();
  return out;
}

function assertClose(actual: Float32Array[], expected: Float32Array[], tol = 1e-5): void {
  assert.equal(actual.length, expected.length);
  for (let i = 0; i < actual.length; i++) {
    const d = maxAbsDiff(actual[i], expected[i]);
    assert.ok(d <= tol, `embedding ${i} differs by ${d} (> ${tol})`);
  }
}

describe('Embedder on a dynamic-batch model', () => {
  let embedder: Embedder;
  before(async () => {
    embedder = await Embedder.create({ descriptor: base, path: dynamicModel });
  });
  after(async () => {
    await embedder.close();
  });

  test('one batch equals single-crop calls and a direct onnxruntime reference (≤ 1e-5)', async () => {
    const crops = randomCrops(7, W, H);
    const batch = await embedder.embed(crops);
    const singles = [];
    for (const c of crops) singles.push((await embedder.embed([c]))[0]);
    assertClose(batch, singles);
    assertClose(batch, await reference(base, dynamicModel, crops));
    assert.ok(distance(batch[0], batch[1], 'cosine') > 1e-3, 'different crops must give different embeddings');
  });

  test('embeddings have unit L2 norm and the descriptor size', async () => {
    const out = await embedder.embed(randomCrops(5, W, H, 3));
    for (const e of out) {
      assert.equal(e.length, 16);
      assert.ok(Math.abs(l2(e) - 1) < 1e-6, `norm ${l2(e)}`);
    }
  });

  test('embedTensor equals embed; it transfers the tensor unless asked to copy', async () => {
    const crops = randomCrops(3, W, H, 11);
    const viaCrops = await embedder.embed(crops);
    const kept = toTensor(crops, base);
    assertClose(await embedder.embedTensor(kept, 3, { copy: true }), viaCrops);
    assert.equal(kept.length, 3 * W * H * 3, 'copy: the caller keeps its tensor');
    const moved = toTensor(crops, base);
    assertClose(await embedder.embedTensor(moved, 3), viaCrops);
    assert.equal(moved.length, 0, 'default: the tensor buffer was transferred to the worker');
    await assert.rejects(embedder.embedTensor(new Float32Array(10), 1), /tensor holds 10 floats, expected n x 1440 = 1440/);
  });

  test('a wrong-size crop is refused, naming its index', async () => {
    const crops = randomCrops(3, W, H);
    crops.push({ width: W + 1, height: H, data: new Uint8Array((W + 1) * H * 3) });
    await assert.rejects(embedder.embed(crops), /crop 3 is 25x20, the embedder "test-embedder" expects 24x20/);
  });

  test('the event loop keeps running while a batch of 32 is inferred', async () => {
    // A heavier model so that the single native run takes tens of milliseconds.
    const heavy = path.join(dir, 'synthetic-heavy.onnx');
    writeSyntheticEmbedder(heavy, { width: 96, height: 96, outSize: 16, channels: 32 });
    const d = descriptor({ input: { width: 96, height: 96, layout: 'NHWC' }, output: { size: 16 } });
    const e = await Embedder.create({ descriptor: d, path: heavy });
    try {
      const crops = randomCrops(32, 96, 96);
      await e.embed(crops); // warm-up
      let ticks = 0;
      const timer = setInterval(() => ticks++, 1);
      const t0 = performance.now();
      await e.embed(crops); // one native run of batch 32 in the worker
      const ms = performance.now() - t0;
      clearInterval(timer);
      assert.ok(ticks >= 3, `a 1 ms interval ticked ${ticks} times during a ${ms.toFixed(0)} ms batch-32 embed`);
    } finally {
      await e.close();
    }
  });
});

test('flip augmentation adds the mirrored crop\'s embedding before normalising', async () => {
  const d = { ...base, flipAugment: true };
  const e = await Embedder.create({ descriptor: d, path: dynamicModel }, { maxBatch: 4 });
  try {
    const crops = randomCrops(5, W, H, 5); // maxBatch 4 with flip: 2 crops per run, 3 runs
    const out = await e.embed(crops);
    assertClose(out, await reference(d, dynamicModel, crops));
    const plain = await reference(base, dynamicModel, crops);
    assert.ok(maxAbsDiff(out[0], plain[0]) > 1e-3, 'flip augmentation must change the embedding');
  } finally {
    await e.close();
  }
});

test('l2normalize false returns the raw model output', async () => {
  const d = { ...base, l2normalize: false };
  const e = await Embedder.create({ descriptor: d, path: dynamicModel });
  try {
    const crops = randomCrops(2, W, H, 9);
    const out = await e.embed(crops);
    assertClose(out, await reference(d, dynamicModel, crops));
    assert.ok(Math.abs(l2(out[0]) - 1) > 1e-3);
  } finally {
    await e.close();
  }
});

test('a fixed batch size of 4 is honoured with padding, and maxBatch splits requests', async () => {
  const e = await Embedder.create({ descriptor: base, path: fixed4Model }, { maxBatch: 3 });
  try {
    assert.equal(e.io.fixedBatch, 4);
    const crops = randomCrops(7, W, H, 13);
    assertClose(await e.embed(crops), await reference(base, dynamicModel, crops));
  } finally {
    await e.close();
  }
});

test('a model/descriptor mismatch surfaces from the worker as ModelMismatchError', async () => {
  const d = { ...base, output: { size: 32 } };
  await assert.rejects(Embedder.create({ descriptor: d, path: dynamicModel }), (err: Error) => {
    assert.ok(err instanceof ModelMismatchError, `${err.name}: ${err.message}`);
    assert.match(err.message, /synthetic-dynamic\.onnx does not match descriptor "test-embedder": expected output "embedding" of size 32 per face, found shape \["N", 16\]/);
    return true;
  });
});

test("provider: ['cuda','cpu'] runs on cpu here", async () => {
  const e = await Embedder.create({ descriptor: base, path: dynamicModel }, { executionProviders: ['cuda', 'cpu'] });
  try {
    assert.ok(['cpu', 'cuda'].includes(e.provider));
    assert.equal((await e.embed(randomCrops(1, W, H)))[0].length, 16);
  } finally {
    await e.close();
  }
});

test('a closed embedder refuses work', async () => {
  const e = await Embedder.create({ descriptor: base, path: dynamicModel });
  await e.close();
  await assert.rejects(e.embed(randomCrops(1, W, H)), /embedder is closed/);
});

test('mobilefacenet (shared model): batch of 9 equals single calls, unit norms', { skip: SKIP_NO_SHARED }, async () => {
  const d = mobilefacenetDescriptor();
  const e = await Embedder.create({ descriptor: d, path: MOBILEFACENET });
  try {
    const crops = randomCrops(9, 112, 112, 21);
    const batch = await e.embed(crops);
    const singles = [];
    for (const c of crops) singles.push((await e.embed([c]))[0]);
    assertClose(batch, singles);
    assertClose(batch, await reference(d, MOBILEFACENET, crops));
    for (const v of batch) assert.ok(Math.abs(l2(v) - 1) < 1e-6);
  } finally {
    await e.close();
  }
});

let defaultEmbedder: ResolvedEmbedder | undefined;
let noDefault: string | false = false;
try {
  defaultEmbedder = new ModelRegistry().embedder('faceapi-resnet128');
} catch (err) {
  noDefault = `default embedder not prepared (run npm run setup): ${(err as Error).message.split('. ')[0]}`;
}

test('faceapi-resnet128 (default model): batch of 5 equals single calls and the raw reference', { skip: noDefault }, async () => {
  const r = defaultEmbedder!;
  const e = await Embedder.create(r);
  try {
    const crops = randomCrops(5, r.descriptor.input.width, r.descriptor.input.height, 31);
    const batch = await e.embed(crops);
    const singles = [];
    for (const c of crops) singles.push((await e.embed([c]))[0]);
    assertClose(batch, singles);
    assertClose(batch, await reference(r.descriptor, r.path, crops));
    for (const v of batch) assert.ok(Math.abs(l2(v) - 1) < 1e-6);
  } finally {
    await e.close();
  }
});

test('distance: cosine and euclidean', () => {
  assert.equal(distance([1, 0], [0, 1], 'cosine'), 1);
  assert.equal(distance([1, 0], [2, 0], 'cosine'), 0);
  assert.equal(distance([1, 0], [-1, 0], 'cosine'), 2);
  assert.equal(distance([0, 3], [4, 0], 'euclidean'), 5);
  assert.throws(() => distance([1], [1, 2], 'cosine'), /lengths differ: 1 and 2/);
});
