/** The minimal ONNX writer: models it writes load and run in onnxruntime, bytes are deterministic, misuse is caught. */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import * as ort from 'onnxruntime-node';
import { OnnxGraphBuilder } from '../../src/models/convert/onnx-proto';

/** y = MatMul(mean over H,W of Relu(Conv1x1(Pad(x)))): exercises int/ints/string attributes, int64 and float initializers. */
function buildTiny(): Uint8Array {
  const g = new OnnxGraphBuilder('tiny');
  g.addInput('x', ['N', 2, 2, 2]); // NCHW
  const w = g.addInitializer('w', [3, 2, 1, 1], Float32Array.from([1, 0, 0, 1, 1, -1]));
  const b = g.addInitializer('b', [3], Float32Array.from([0, 0, 0.5]));
  const pads = g.addInt64Initializer('pads', [8], [0, 0, 0, 0, 0, 0, 1, 1]);
  const padded = g.op('Pad', ['x', pads], { mode: { string: 'constant' } });
  const conv = g.op('Conv', [padded, w, b], { kernel_shape: { ints: [1, 1] }, group: { int: 1 } });
  const relu = g.op('Relu', [conv]);
  const mean = g.addNode('ReduceMean', [relu], ['mean'], { axes: { ints: [2, 3] }, keepdims: { int: 0 } })[0];
  const fc = g.addInitializer('fc', [3, 2], Float32Array.from([1, 2, 3, 4, 5, 6]));
  g.addNode('MatMul', [mean, fc], ['y']);
  g.addOutput('y', ['N', 2]);
  return g.toModelBytes({ irVersion: 7, opsetVersion: 13, producerName: 'test', producerVersion: '1', metadata: { b: '2', a: '1' } });
}

test('a model written by OnnxGraphBuilder runs in onnxruntime with a dynamic batch and the expected values', async () => {
  const bytes = buildTiny();
  const session = await ort.InferenceSession.create(bytes, { executionProviders: ['cpu'] });
  try {
    assert.deepEqual(session.inputNames, ['x']);
    assert.deepEqual(session.outputNames, ['y']);
    // Two samples, channel 0 = c0, channel 1 = c1 everywhere.
    const x = Float32Array.from([...Array(4).fill(1), ...Array(4).fill(2), ...Array(4).fill(3), ...Array(4).fill(-1)]);
    const out = await session.run({ x: new ort.Tensor('float32', x, [2, 2, 2, 2]) });
    assert.deepEqual(out.y.dims, [2, 2]);
    // Per pixel of the 3x3 padded map: conv = [c0, c1, c0 - c1 + 0.5] on the 4 real pixels, [0, 0, 0.5] on the 5 padded ones.
    const expected = (c0: number, c1: number): number[] => {
      const m = [c0, c1, c0 - c1 + 0.5].map((v, k) => (4 * Math.max(0, v) + 5 * Math.max(0, k === 2 ? 0.5 : 0)) / 9);
      return [m[0] * 1 + m[1] * 3 + m[2] * 5, m[0] * 2 + m[1] * 4 + m[2] * 6];
    };
    const want = [...expected(1, 2), ...expected(3, -1)];
    const got = [...(out.y.data as Float32Array)];
    got.forEach((v, i) => assert.ok(Math.abs(v - want[i]) < 1e-5, `y[${i}] = ${v}, expected ${want[i]}`));
  } finally {
    await session.release();
  }
});

test('the same graph gives the same bytes', () => {
  const h = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');
  assert.equal(h(buildTiny()), h(buildTiny()));
});

test('misuse is reported with the names involved', () => {
  const g = new OnnxGraphBuilder('bad');
  g.addInput('x', ['N', 4]);
  assert.throws(() => g.addNode('Relu', ['nope'], ['y']), /Relu node: input "nope" is not defined yet/);
  assert.throws(() => g.addInitializer('w', [2, 2], new Float32Array(3)), /initializer w: 3 values for dims \[2, 2\] \(expected 4\)/);
  g.addNode('Relu', ['x'], ['y']);
  assert.throws(() => g.addNode('Relu', ['x'], ['y'], {}, 'relu2'), /value name "y" is already defined/);
  assert.throws(() => g.addOutput('z', ['N', 4]), /graph output "z" is not produced/);
  assert.throws(() => g.toModelBytes({ irVersion: 7, opsetVersion: 13, producerName: 't', producerVersion: '1' }), /graph bad has no outputs/);
});
