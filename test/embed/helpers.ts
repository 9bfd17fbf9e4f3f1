/** Shared helpers for the embed tests: descriptors, crops, the shared-data directory, raw reference runs. */
import { existsSync, mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { EmbedderDescriptor, EmbedderDescriptorSchema } from '../../src/models/descriptor';
import type { Crop } from '../../src/embed/preprocess';
import { projectRoot } from '../../src/util/paths';

export const SHARED_DIR = process.env.FACESTREAM_SHARED_DIR ?? path.resolve(projectRoot(), '..', 'shared');
export const MOBILEFACENET = path.join(SHARED_DIR, 'models', 'mobilefacenet-foamliu.onnx');
/** A node:test `skip` value: false when the shared model is there, else the reason printed. */
export const SKIP_NO_SHARED = existsSync(MOBILEFACENET)
  ? false
  : `needs ${MOBILEFACENET} (shared test models absent; set FACESTREAM_SHARED_DIR)`;

export function tempDir(): string {
  return mkdtempSync(path.join(os.tmpdir(), 'facestream-embed-'));
}

type DescriptorOverrides = Partial<Omit<EmbedderDescriptor, 'input' | 'output'>> & {
  input?: Partial<EmbedderDescriptor['input']>;
  output?: Partial<EmbedderDescriptor['output']>;
};

export function descriptor(over: DescriptorOverrides = {}): EmbedderDescriptor {
  const base = {
    kind: 'embedder',
    name: 'test-embedder',
    description: 'test',
    file: 'test.onnx',
    sha256: '0'.repeat(64),
    obtain: 'written by the test',
    distance: 'cosine',
    l2normalize: true,
    flipAugment: false,
    alignment: { template: [[1, 1], [2, 1], [1.5, 1.5], [1, 2], [2, 2]] },
    ...over,
    input: { width: 2, height: 2, layout: 'NCHW', colorOrder: 'RGB', mean: [0, 0, 0], std: [1, 1, 1], ...over.input },
    output: { size: 16, ...over.output },
  };
  return EmbedderDescriptorSchema.parse(base);
}

/** mobilefacenet's real descriptor values, for /work/shared/models/mobilefacenet-foamliu.onnx. */
export function mobilefacenetDescriptor(over: DescriptorOverrides = {}): EmbedderDescriptor {
  return descriptor({
    name: 'mobilefacenet',
    file: 'mobilefacenet-foamliu.onnx',
    ...over,
    input: { width: 112, height: 112, layout: 'NCHW', colorOrder: 'RGB', mean: [123.675, 116.28, 103.53], std: [58.395, 57.12, 57.375], ...over.input },
    output: { size: 128, ...over.output },
  });
}

/** Seeded random BGR crops. */
export function randomCrops(n: number, width: number, height: number, seed = 7): Crop[] {
  let a = seed >>> 0;
  const next = (): number => {
    a = (Math.imul(a, 1664525) + 1013904223) >>> 0;
    return a >>> 24;
  };
  return Array.from({ length: n }, () => {
    const data = new Uint8Array(width * height * 3);
    for (let i = 0; i < data.length; i++) data[i] = next();
    return { width, height, data };
  });
}

/** Runs a model directly with onnxruntime (one row at a time when the batch is fixed at 1). */
export async function rawRun(
  session: ort.InferenceSession,
  tensor: Float32Array,
  dims: number[],
): Promise<Float32Array> {
  const out = await session.run({ [session.inputNames[0]]: new ort.Tensor('float32', tensor, dims) });
  return (out[session.outputNames[0]] as ort.Tensor).data as Float32Array;
}

export function l2(v: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i] * v[i];
  return Math.sqrt(s);
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity;
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

export function normalized(v: Float32Array): Float32Array {
  const n = l2(v);
  return v.map((x) => x / n);
}
