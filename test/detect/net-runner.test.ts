import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import * as ort from 'onnxruntime-node';
import { frameMatView, frameToMat } from '../../src/detect/cvmat';
import { createNetRunner, OrtWorker } from '../../src/detect/net-runner';
import { withSymbolicDims } from '../../src/detect/onnx-dims';
import { packYunetInput, YUNET_SYMBOLIC_DIMS } from '../../src/detect/yunet';
import { OnnxGraphBuilder } from '../../src/models/convert/onnx-proto';
import { cv } from '../../src/util/cv';
import { resolveDetector } from './helpers';

/** A model computing y = 2x + 1 declared with a fixed [1, 2, 3, 4] input and output, plus a doc string to keep. */
function fixedModel(): Uint8Array {
  const g = new OnnxGraphBuilder('fixed');
  const x = g.addInput('x', [1, 2, 3, 4]);
  const two = g.addInitializer('two', [1], Float32Array.of(2));
  const one = g.addInitializer('one', [1], Float32Array.of(1));
  const y = g.addNode('Add', [g.op('Mul', [x, two]), one], ['y'])[0];
  g.addOutput(y, [1, 2, 3, 4]);
  return g.toModelBytes({ irVersion: 7, opsetVersion: 13, producerName: 'facestream-test', producerVersion: '1', docString: 'keep me' });
}

test('withSymbolicDims frees the named dims and leaves every other byte alone', async () => {
  const model = fixedModel();
  const freed = withSymbolicDims(model, { x: [null, null, 'h', 'w'], y: [null, null, 'h', 'w'] });
  // Each freed dim: varint 3 (2 bytes with tag) becomes a 1-char name (3 bytes): +1 byte per dim, plus
  // one more length byte nowhere (all enclosing messages stay below 128 bytes).
  assert.equal(freed.length, model.length + 4);
  assert.ok(Buffer.from(freed).includes(Buffer.from('keep me')));
  const fixed = await ort.InferenceSession.create(model);
  await assert.rejects(
    fixed.run({ x: new ort.Tensor('float32', new Float32Array(2 * 5 * 6), [1, 2, 5, 6]) }),
    /dimension|Got invalid dimensions/i,
  );
  const s = await ort.InferenceSession.create(freed);
  const meta = s.inputMetadata[0];
  assert.ok(meta.isTensor);
  assert.deepEqual(meta.shape, [1, 2, 'h', 'w']);
  const out = await s.run({ x: new ort.Tensor('float32', Float32Array.from({ length: 60 }, (_, i) => i), [1, 2, 5, 6]) });
  assert.deepEqual(out.y.dims, [1, 2, 5, 6]);
  assert.equal(out.y.data[7], 15);
  // Nothing asked: the very same bytes, not even copied.
  assert.equal(withSymbolicDims(model, {}), model);
  assert.throws(() => withSymbolicDims(model, { nope: ['n'] }), /no input or output named "nope"/);
  assert.throws(() => withSymbolicDims(model, { x: [null, null, null, null, 'extra'] }), /has 4 dims; the dims spec lists 5/);
});

test('packYunetInput writes BGR planes (NCHW) and leaves the padding black', () => {
  const c = cv();
  // 3 wide, 2 high, pixel (x, y) = (10x + y, 100 + 10x + y, 200 + 10x + y) in B, G, R.
  const data = new Uint8Array(3 * 2 * 3);
  for (let y = 0; y < 2; y++) for (let x = 0; x < 3; x++) data.set([10 * x + y, 100 + 10 * x + y, 200 + 10 * x + y], (y * 3 + x) * 3);
  for (const [pw, ph] of [[3, 2], [4, 3]]) {
    const out = packYunetInput(frameToMat({ width: 3, height: 2, data }), pw, ph, new Float32Array(3 * pw * ph));
    for (let ch = 0; ch < 3; ch++) {
      for (let y = 0; y < ph; y++) {
        for (let x = 0; x < pw; x++) {
          const want = x < 3 && y < 2 ? 100 * ch + 10 * x + y : 0;
          assert.equal(out[ch * pw * ph + y * pw + x], want, `${pw}x${ph} channel ${ch} (${x}, ${y})`);
        }
      }
    }
  }
  assert.throws(() => packYunetInput(new c.Mat(2, 3, c.CV_8UC3), 2, 2, new Float32Array(12)), RangeError);
});

test('frameMatView shares the frame bytes (no copy); tiny frames are copied', () => {
  const width = 64;
  const height = 32;
  const frame = { width, height, data: new Uint8Array(width * height * 3) };
  const view = frameMatView(frame);
  frame.data[(5 * width + 7) * 3 + 2] = 201;
  assert.equal((view.atRaw(5, 7) as unknown as number[])[2], 201, 'the Mat sees a later write to the frame');
  const tiny = { width: 2, height: 2, data: new Uint8Array(12) };
  const copy = frameMatView(tiny);
  tiny.data[0] = 9;
  assert.equal((copy.atRaw(0, 0) as unknown as number[])[0], 0, 'a tiny frame is copied');
});

test('onnxruntime and OpenCV dnn give the same YuNet outputs at a size the file does not declare', async (t) => {
  const resolved = resolveDetector('yunet');
  if (typeof resolved === 'string') return t.skip(resolved);
  const [h, w] = [96, 160];
  const data = Float32Array.from({ length: 3 * h * w }, (_, i) => (i * 7919) % 256);
  const outputs = ['loc', 'conf', 'iou'];
  const a = await createNetRunner('onnxruntime', resolved.paths.model, { symbolicDims: YUNET_SYMBOLIC_DIMS }).run({ data, dims: [1, 3, h, w] }, outputs);
  const b = await createNetRunner('opencv', resolved.paths.model).run({ data, dims: [1, 3, h, w] }, outputs);
  outputs.forEach((name, k) => {
    assert.deepEqual([...a[k].dims], [...b[k].dims], `${name} dims`);
    let max = 0;
    for (let i = 0; i < a[k].data.length; i++) max = Math.max(max, Math.abs(a[k].data[i] - b[k].data[i]));
    assert.ok(max < 1e-3, `${name}: max difference ${max}`);
  });
});

test('a network file that is not ONNX fails at ready() and run() with the file named, on either thread', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'facestream-net-'));
  try {
    const file = path.join(dir, 'broken.onnx');
    writeFileSync(file, 'not a model');
    const runner = createNetRunner('onnxruntime', file);
    await assert.rejects(runner.ready(), /cannot load detector network .*broken\.onnx with onnxruntime/);
    await assert.rejects(runner.run({ data: new Float32Array(1), dims: [1] }, ['y']), /broken\.onnx/);
    // The same in a worker thread; a good network beside it still runs; after close() nothing does.
    const worker = new OrtWorker();
    const inWorker = createNetRunner('onnxruntime', file, { worker });
    await assert.rejects(inWorker.ready(), /cannot load detector network .*broken\.onnx with onnxruntime/);
    const good = path.join(dir, 'good.onnx');
    writeFileSync(good, fixedModel());
    const net = createNetRunner('onnxruntime', good, { worker });
    const input = { data: new Float32Array(24).fill(3), dims: [1, 2, 3, 4] };
    const [y] = await net.run(input, ['y']);
    assert.deepEqual([...y.dims], [1, 2, 3, 4]);
    assert.equal(y.data[23], 7);
    // The caller's input is left alone (copied, not taken over); buffers circulate between runs.
    assert.equal(input.data.length, 24);
    assert.equal(input.data[23], 3);
    input.data.fill(1);
    const again = await Promise.all([net.run(input, ['y']), net.run({ data: new Float32Array(24).fill(2), dims: [1, 2, 3, 4] }, ['y'])]);
    assert.deepEqual([again[0][0].data[0], again[1][0].data[23]], [3, 5]);
    assert.equal(y.data[23], 7, 'an earlier result is not overwritten by later runs');
    // Closed while runs are queued: they fail with "closed"; the thread releases its sessions and ends by itself
    // (exit code 0; a terminated thread exits with 1), which close() waits for.
    const queued = [net.run(input, ['y']), net.run(input, ['y'])].map((q) => q.then(() => 'resolved', (e: Error) => e.message));
    const exitCode = new Promise<number>((resolve) => (worker as unknown as { worker: NodeJS.EventEmitter }).worker.once('exit', resolve));
    await worker.close();
    assert.equal(await exitCode, 0, 'the worker thread ended by itself');
    assert.deepEqual(await Promise.all(queued), ['detector is closed', 'detector is closed']);
    await assert.rejects(net.run({ data: new Float32Array(24), dims: [1, 2, 3, 4] }, ['y']), /detector is closed/);
    await worker.close(); // twice is fine
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
