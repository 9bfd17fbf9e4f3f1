/**
 * Writes small synthetic embedder models (ONNX) for tests: NHWC uint8-normalised input → Transpose →
 * three 3x3 convolutions with ReLU → global average pool → linear to `outSize`. Seeded random
 * weights, so outputs are deterministic and depend on every pixel, its channel and its position.
 * Lets the tests exercise a dynamic batch dimension (one native run per batch) and a fixed batch
 * size > 1 without depending on /work/shared.
 */
import { writeFileSync } from 'node:fs';
import protobuf from 'protobufjs';

// The subset of onnx.proto (field numbers as in onnx/onnx.proto) these models need.
const ONNX_SUBSET = `
syntax = "proto3";
package onnx;
message AttributeProto { string name = 1; int64 i = 3; repeated int64 ints = 8; int32 type = 20; }
message TensorProto { repeated int64 dims = 1; int32 data_type = 2; string name = 8; bytes raw_data = 9; }
message NodeProto { repeated string input = 1; repeated string output = 2; string name = 3; string op_type = 4; repeated AttributeProto attribute = 5; }
message Dimension { int64 dim_value = 1; string dim_param = 2; }
message TensorShapeProto { repeated Dimension dim = 1; }
message TensorTypeProto { int32 elem_type = 1; TensorShapeProto shape = 2; }
message TypeProto { TensorTypeProto tensor_type = 1; }
message ValueInfoProto { string name = 1; TypeProto type = 2; }
message GraphProto { repeated NodeProto node = 1; string name = 2; repeated TensorProto initializer = 5; repeated ValueInfoProto input = 11; repeated ValueInfoProto output = 12; }
message OperatorSetIdProto { string domain = 1; int64 version = 2; }
message ModelProto { int64 ir_version = 1; string producer_name = 2; GraphProto graph = 7; repeated OperatorSetIdProto opset_import = 8; }
`;

const FLOAT = 1;
const ATTR_INT = 2;
const ATTR_INTS = 7;

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

/** mulberry32: small seeded PRNG so fixtures are reproducible. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function floatTensor(name: string, dims: number[], rand: () => number, scale: number) {
  const n = dims.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = (rand() * 2 - 1) * scale;
  return { name, dims, data_type: FLOAT, raw_data: new Uint8Array(data.buffer) };
}

export function writeSyntheticEmbedder(file: string, spec: SyntheticModelSpec): void {
  const root = protobuf.parse(ONNX_SUBSET, { keepCase: true }).root;
  const Model = root.lookupType('onnx.ModelProto');
  const rand = rng(spec.seed ?? 1);
  const c = spec.channels ?? 16;
  const { width: w, height: h, outSize } = spec;
  const inputName = spec.inputName ?? 'input';
  const outputName = spec.outputName ?? 'embedding';
  const batch = spec.fixedBatch === undefined ? { dim_param: 'N' } : { dim_value: spec.fixedBatch };
  const conv = (x: string, wName: string, bName: string, y: string) => ({
    op_type: 'Conv',
    name: y,
    input: [x, wName, bName],
    output: [y],
    attribute: [
      { name: 'kernel_shape', type: ATTR_INTS, ints: [3, 3] },
      { name: 'pads', type: ATTR_INTS, ints: [1, 1, 1, 1] },
    ],
  });
  const relu = (x: string, y: string) => ({ op_type: 'Relu', name: y, input: [x], output: [y] });
  const model = {
    ir_version: 8,
    producer_name: 'facestream-test',
    opset_import: [{ domain: '', version: 13 }],
    graph: {
      name: 'synthetic_embedder',
      input: [
        {
          name: inputName,
          type: { tensor_type: { elem_type: FLOAT, shape: { dim: [batch, { dim_value: h }, { dim_value: w }, { dim_value: 3 }] } } },
        },
      ],
      output: [
        {
          name: outputName,
          type: {
            tensor_type: {
              elem_type: FLOAT,
              shape: { dim: [spec.fixedBatch === undefined ? { dim_param: 'N' } : { dim_value: spec.fixedBatch }, { dim_value: outSize }] },
            },
          },
        },
      ],
      initializer: [
        floatTensor('w1', [c, 3, 3, 3], rand, 0.5),
        floatTensor('b1', [c], rand, 0.1),
        floatTensor('w2', [c, c, 3, 3], rand, 0.2),
        floatTensor('b2', [c], rand, 0.1),
        floatTensor('w3', [c, c, 3, 3], rand, 0.2),
        floatTensor('b3', [c], rand, 0.1),
        floatTensor('fc', [c, outSize], rand, 1),
      ],
      node: [
        { op_type: 'Transpose', name: 'nchw', input: [inputName], output: ['nchw'], attribute: [{ name: 'perm', type: ATTR_INTS, ints: [0, 3, 1, 2] }] },
        conv('nchw', 'w1', 'b1', 'c1'),
        relu('c1', 'r1'),
        conv('r1', 'w2', 'b2', 'c2'),
        relu('c2', 'r2'),
        conv('r2', 'w3', 'b3', 'c3'),
        relu('c3', 'r3'),
        { op_type: 'GlobalAveragePool', name: 'gap', input: ['r3'], output: ['gap'] },
        { op_type: 'Flatten', name: 'flat', input: ['gap'], output: ['flat'], attribute: [{ name: 'axis', type: ATTR_INT, i: 1 }] },
        { op_type: 'MatMul', name: outputName, input: ['flat', 'fc'], output: [outputName] },
      ],
    },
  };
  const err = Model.verify(model);
  if (err) throw new Error(`synthetic ONNX model: ${err}`);
  writeFileSync(file, Model.encode(Model.fromObject(model)).finish());
}

