/**
 * Writes small synthetic embedder models (ONNX) for tests: NHWC uint8-normalised input → Transpose →
 * three 3x3 convolutions with ReLU → global average pool → linear to `outSize`. Seeded random
 * weights, so outputs are deterministic and depend on every pixel, its channel and its position.
 * Lets the tests exercise a dynamic batch dimension (one native run per batch) and a fixed batch
 * size > 1 without depending on /work/shared.
 */
import { writeFileSync } from 'node:fs';
import { OnnxGraphBuilder } from '../../src/models/convert/onnx-proto';
import { rng32 } from '../../src/match/svm';

export interface SyntheticModelSpec {
  width: number;
  height: number;
  outSize: number;
  /** Fixed batch size; omitted: dynamic ("N"). */
  fixedBatch?: number;
  /** Channels of the convolutions (more = slower); default 16. */
  channels?: number;
  seed?: number;
  inputName?: string;
  outputName?: string;
}

export function writeSyntheticEmbedder(file: string, spec: SyntheticModelSpec): void {
  const next = rng32(spec.seed ?? 1);
  const rand = () => next() / 4294967296;
  const c = spec.channels ?? 16;
  const { width: w, height: h, outSize } = spec;
  const inputName = spec.inputName ?? 'input';
  const outputName = spec.outputName ?? 'embedding';
  const batch = spec.fixedBatch ?? 'N';
  const g = new OnnxGraphBuilder('synthetic_embedder');
  const weights = (name: string, dims: number[], scale: number) => {
    const data = new Float32Array(dims.reduce((a, b) => a * b, 1));
    for (let i = 0; i < data.length; i++) data[i] = (rand() * 2 - 1) * scale;
    return g.addInitializer(name, dims, data);
  };
  g.addInput(inputName, [batch, h, w, 3]);
  const w1 = weights('w1', [c, 3, 3, 3], 0.5);
  const b1 = weights('b1', [c], 0.1);
  const w2 = weights('w2', [c, c, 3, 3], 0.2);
  const b2 = weights('b2', [c], 0.1);
  const w3 = weights('w3', [c, c, 3, 3], 0.2);
  const b3 = weights('b3', [c], 0.1);
  const fc = weights('fc', [c, outSize], 1);
  const conv = (x: string, wt: string, b: string) => g.op('Relu', [g.op('Conv', [x, wt, b], { kernel_shape: { ints: [3, 3] }, pads: { ints: [1, 1, 1, 1] } })]);
  let x = g.op('Transpose', [inputName], { perm: { ints: [0, 3, 1, 2] } });
  x = conv(conv(conv(x, w1, b1), w2, b2), w3, b3);
  x = g.op('Flatten', [g.op('GlobalAveragePool', [x])], { axis: { int: 1 } });
  g.addNode('MatMul', [x, fc], [outputName]);
  g.addOutput(outputName, [batch, outSize]);
  writeFileSync(file, g.toModelBytes({ irVersion: 8, opsetVersion: 13, producerName: 'facestream-test', producerVersion: '1' }));
}
