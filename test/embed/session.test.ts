import assert from 'node:assert/strict';
import { existsSync, rmSync } from 'node:fs';
import path from 'node:path';
import { after, test } from 'node:test';
import { createEmbedderSession, ModelMismatchError } from '../../src/embed/session';
import { descriptor, MOBILEFACENET, mobilefacenetDescriptor, SKIP_NO_SHARED, tempDir } from './helpers';
import { writeSyntheticEmbedder } from './onnx-fixture';

const dir = tempDir();
after(() => rmSync(dir, { recursive: true, force: true }));
const synthetic = path.join(dir, 'synthetic-nhwc-8x6.onnx');
writeSyntheticEmbedder(synthetic, { width: 8, height: 6, outSize: 16 });
const syntheticDescriptor = descriptor({ input: { width: 8, height: 6, layout: 'NHWC' }, output: { size: 16 } });
const cudaLib = path.join(
  path.dirname(require.resolve('onnxruntime-node/package.json')),
  'bin', 'napi-v6', process.platform, process.arch, 'libonnxruntime_providers_cuda.so',
);

test('a matching model opens and reports its input/output and dynamic batch', async () => {
  const s = await createEmbedderSession({ descriptor: syntheticDescriptor, path: synthetic });
  assert.equal(s.provider, 'cpu');
  assert.deepEqual(s.fallbacks, []);
  assert.deepEqual(s.io, { inputName: 'input', outputName: 'embedding', fixedBatch: null });
  await s.session.release();
});

test('output size disagreeing with the model is refused at load, naming file, expected and found', { skip: SKIP_NO_SHARED }, async () => {
  const d = mobilefacenetDescriptor({ output: { size: 512 } });
  await assert.rejects(createEmbedderSession({ descriptor: d, path: MOBILEFACENET }), (e: Error) => {
    assert.ok(e instanceof ModelMismatchError, `expected ModelMismatchError, got ${e.name}: ${e.message}`);
    assert.ok(e.message.includes(MOBILEFACENET), e.message);
    assert.match(e.message, /size 512 per face, found shape \[1, 128\] \(128 per face\)/);
    return true;
  });
});

test('input size or layout disagreeing with the model is refused at load', { skip: SKIP_NO_SHARED }, async () => {
  await assert.rejects(
    createEmbedderSession({ descriptor: mobilefacenetDescriptor({ input: { width: 150, height: 150 } }), path: MOBILEFACENET }),
    /mobilefacenet-foamliu\.onnx does not match descriptor "mobilefacenet": expected input "input0" of shape \[batch, 3, 150, 150\] \(NCHW\), found \[1, 3, 112, 112\]/,
  );
  await assert.rejects(
    createEmbedderSession({ descriptor: mobilefacenetDescriptor({ input: { layout: 'NHWC' } }), path: MOBILEFACENET }),
    /expected input "input0" of shape \[batch, 112, 112, 3\] \(NHWC\), found \[1, 3, 112, 112\]/,
  );
});

test('the real mobilefacenet model opens with its fixed batch of 1', { skip: SKIP_NO_SHARED }, async () => {
  const s = await createEmbedderSession({ descriptor: mobilefacenetDescriptor(), path: MOBILEFACENET });
  assert.deepEqual(s.io, { inputName: 'input0', outputName: 'output0', fixedBatch: 1 });
  await s.session.release();
});

test('unknown input or output names are refused with the names the model has', async () => {
  await assert.rejects(
    createEmbedderSession({ descriptor: descriptor({ ...syntheticDescriptor, input: { ...syntheticDescriptor.input, name: 'data' } }), path: synthetic }),
    /synthetic-nhwc-8x6\.onnx does not match descriptor "test-embedder": expected input "data", the model's inputs are "input"/,
  );
  await assert.rejects(
    createEmbedderSession({ descriptor: descriptor({ ...syntheticDescriptor, output: { size: 16, name: 'fc1' } }), path: synthetic }),
    /expected output "fc1", the model's outputs are "embedding"/,
  );
});

test("requesting ['cuda','cpu'] without the CUDA provider installed falls back to cpu and says why", async (t) => {
  if (existsSync(cudaLib)) {
    t.skip(`${cudaLib} is installed here; the fallback cannot be observed`);
    return;
  }
  const s = await createEmbedderSession(
    { descriptor: syntheticDescriptor, path: synthetic },
    { executionProviders: ['cuda', 'cpu'] },
    { announce: false },
  );
  assert.equal(s.provider, 'cpu');
  assert.equal(s.fallbacks.length, 1);
  assert.match(s.fallbacks[0], /CUDA execution provider not installed/);
  await s.session.release();
});

test("requesting only ['cuda'] without it installed fails, naming the provider and the model", async (t) => {
  if (existsSync(cudaLib)) {
    t.skip(`${cudaLib} is installed here`);
    return;
  }
  await assert.rejects(
    createEmbedderSession({ descriptor: syntheticDescriptor, path: synthetic }, { executionProviders: ['cuda'] }),
    /cannot open embedder model .*synthetic-nhwc-8x6\.onnx with execution provider cuda/,
  );
});
