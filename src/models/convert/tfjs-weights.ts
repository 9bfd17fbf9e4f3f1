/**
 * Reads TF.js "weights manifest" models (…-weights_manifest.json plus its .bin shards) into named
 * float32 tensors, dequantizing uint8/uint16 weights the way tfjs-core's io.decodeWeights does
 * (value * scale + min, computed in double precision and stored as float32).
 *
 * Format: the manifest is an array of groups {paths: [shard files], weights: [{name, shape, dtype,
 * quantization?}]}; each group's weights lie back to back in the concatenation of its shards.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

export interface NamedTensor {
  shape: number[];
  data: Float32Array;
}

export type WeightMap = Map<string, NamedTensor>;

interface WeightSpec {
  name: string;
  shape: number[];
  dtype: string;
  quantization?: { dtype: string; scale?: number; min?: number };
}

interface WeightGroup {
  paths: string[];
  weights: WeightSpec[];
}

const BYTES: Record<string, number> = { float32: 4, int32: 4, uint8: 1, uint16: 2 };

function parseManifest(json: unknown, file: string): WeightGroup[] {
  const bad = (why: string): Error => new Error(`TF.js weights manifest ${file}: ${why}`);
  if (!Array.isArray(json)) throw bad('expected a JSON array of weight groups');
  return json.map((g, gi) => {
    if (typeof g !== 'object' || g === null) throw bad(`group ${gi} is not an object`);
    const { paths, weights } = g as Record<string, unknown>;
    if (!Array.isArray(paths) || paths.some((p) => typeof p !== 'string')) throw bad(`group ${gi}: "paths" must be an array of file names`);
    if (!Array.isArray(weights)) throw bad(`group ${gi}: "weights" must be an array`);
    for (const [wi, w] of weights.entries()) {
      const s = w as Partial<WeightSpec>;
      if (typeof s?.name !== 'string') throw bad(`group ${gi} weight ${wi}: missing "name"`);
      if (!Array.isArray(s.shape) || s.shape.some((d) => !Number.isInteger(d) || d < 0)) {
        throw bad(`weight ${s.name}: "shape" must be an array of non-negative integers`);
      }
      if (typeof s.dtype !== 'string') throw bad(`weight ${s.name}: missing "dtype"`);
    }
    return { paths: paths as string[], weights: weights as WeightSpec[] };
  });
}

function byteSize(spec: WeightSpec): number {
  const count = spec.shape.reduce((a, b) => a * b, 1);
  const storage = spec.quantization?.dtype ?? spec.dtype;
  const per = BYTES[storage];
  if (per === undefined) {
    throw new Error(
      `weight ${spec.name}: unsupported ${spec.quantization ? 'quantization ' : ''}dtype "${storage}" (supported: float32, int32, uint8/uint16 quantization)`,
    );
  }
  return count * per;
}

function decode(spec: WeightSpec, bytes: Uint8Array): Float32Array {
  const count = spec.shape.reduce((a, b) => a * b, 1);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Float32Array(count);
  const q = spec.quantization;
  if (q) {
    if (spec.dtype !== 'float32') throw new Error(`weight ${spec.name}: quantized weights of dtype ${spec.dtype} are not supported (float32 only)`);
    if (typeof q.scale !== 'number' || typeof q.min !== 'number') {
      throw new Error(`weight ${spec.name}: ${q.dtype} quantization without numeric "scale" and "min"`);
    }
    const { scale, min } = q;
    if (q.dtype === 'uint8') for (let i = 0; i < count; i++) out[i] = bytes[i] * scale + min;
    else for (let i = 0; i < count; i++) out[i] = view.getUint16(i * 2, true) * scale + min;
  } else if (spec.dtype === 'float32') {
    for (let i = 0; i < count; i++) out[i] = view.getFloat32(i * 4, true);
  } else {
    for (let i = 0; i < count; i++) out[i] = view.getInt32(i * 4, true);
  }
  return out;
}

/**
 * Reads `<modelDir>/<modelName>-weights_manifest.json` and its shards. Throws, naming the file, when
 * the manifest or a shard is missing, or when the shards' total size does not match the manifest.
 */
export function readTfjsWeights(modelDir: string, modelName: string): WeightMap {
  const manifestFile = path.join(modelDir, `${modelName}-weights_manifest.json`);
  if (!existsSync(manifestFile)) throw new Error(`TF.js weights manifest not found: ${manifestFile}`);
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(manifestFile, 'utf8'));
  } catch (err) {
    throw new Error(`TF.js weights manifest ${manifestFile} is not valid JSON: ${(err as Error).message}`);
  }
  const groups = parseManifest(json, manifestFile);
  const weights: WeightMap = new Map();
  for (const group of groups) {
    const shards = group.paths.map((p) => {
      const file = path.resolve(path.dirname(manifestFile), p);
      if (!existsSync(file)) throw new Error(`TF.js weights shard missing: ${file} (listed in ${manifestFile})`);
      return readFileSync(file);
    });
    const buffer = Buffer.concat(shards);
    const expected = group.weights.reduce((sum, w) => sum + byteSize(w), 0);
    if (buffer.length !== expected) {
      throw new Error(
        `TF.js weights shards ${group.paths.join(', ')} hold ${buffer.length} bytes, ${manifestFile} describes ${expected}`,
      );
    }
    let offset = 0;
    for (const spec of group.weights) {
      const size = byteSize(spec);
      if (weights.has(spec.name)) throw new Error(`TF.js weights manifest ${manifestFile}: weight ${spec.name} appears twice`);
      weights.set(spec.name, { shape: [...spec.shape], data: decode(spec, buffer.subarray(offset, offset + size)) });
      offset += size;
    }
  }
  return weights;
}
