/**
 * A minimal ONNX model writer: the subset of onnx.proto needed to describe a feed-forward graph
 * (model, graph, nodes, attributes, tensors, value infos, opset imports), encoded with protobufjs.
 * Field numbers and types are those of onnx/onnx.proto (IR version 7); nothing else is declared.
 *
 * The output is deterministic: the same calls in the same order give the same bytes (tensors are
 * written as little-endian raw_data; no timestamps or random ids are written).
 */
import protobuf from 'protobufjs';

const ONNX_SUBSET_PROTO = `
syntax = "proto2";
package onnx;

message AttributeProto {
  enum AttributeType {
    UNDEFINED = 0; FLOAT = 1; INT = 2; STRING = 3; TENSOR = 4; GRAPH = 5;
    FLOATS = 6; INTS = 7; STRINGS = 8; TENSORS = 9; GRAPHS = 10;
    SPARSE_TENSOR = 11; SPARSE_TENSORS = 12;
  }
  optional string name = 1;
  optional float f = 2;
  optional int64 i = 3;
  optional bytes s = 4;
  optional TensorProto t = 5;
  repeated float floats = 7;
  repeated int64 ints = 8;
  repeated bytes strings = 9;
  optional string doc_string = 13;
  optional AttributeType type = 20;
}

message ValueInfoProto {
  optional string name = 1;
  optional TypeProto type = 2;
  optional string doc_string = 3;
}

message NodeProto {
  repeated string input = 1;
  repeated string output = 2;
  optional string name = 3;
  optional string op_type = 4;
  repeated AttributeProto attribute = 5;
  optional string doc_string = 6;
  optional string domain = 7;
}

message StringStringEntryProto {
  optional string key = 1;
  optional string value = 2;
}

message ModelProto {
  optional int64 ir_version = 1;
  optional string producer_name = 2;
  optional string producer_version = 3;
  optional string domain = 4;
  optional int64 model_version = 5;
  optional string doc_string = 6;
  optional GraphProto graph = 7;
  repeated OperatorSetIdProto opset_import = 8;
  repeated StringStringEntryProto metadata_props = 14;
}

message GraphProto {
  repeated NodeProto node = 1;
  optional string name = 2;
  repeated TensorProto initializer = 5;
  optional string doc_string = 10;
  repeated ValueInfoProto input = 11;
  repeated ValueInfoProto output = 12;
  repeated ValueInfoProto value_info = 13;
}

message TensorProto {
  repeated int64 dims = 1;
  optional int32 data_type = 2;
  repeated float float_data = 4 [packed = true];
  repeated int32 int32_data = 5 [packed = true];
  repeated int64 int64_data = 7 [packed = true];
  optional string name = 8;
  optional bytes raw_data = 9;
  optional string doc_string = 12;
}

message TensorShapeProto {
  message Dimension {
    oneof value {
      int64 dim_value = 1;
      string dim_param = 2;
    }
    optional string denotation = 3;
  }
  repeated Dimension dim = 1;
}

message TypeProto {
  message Tensor {
    optional int32 elem_type = 1;
    optional TensorShapeProto shape = 2;
  }
  oneof value {
    Tensor tensor_type = 1;
  }
  optional string denotation = 6;
}

message OperatorSetIdProto {
  optional string domain = 1;
  optional int64 version = 2;
}
`;

/** TensorProto.DataType values used here. */
export const OnnxDataType = { FLOAT: 1, INT64: 7 } as const;

/** AttributeProto.AttributeType values used here. */
const AttributeType = { FLOAT: 1, INT: 2, STRING: 3, FLOATS: 6, INTS: 7 } as const;

let modelType: protobuf.Type | undefined;
function onnxModelType(): protobuf.Type {
  if (!modelType) {
    const root = protobuf.parse(ONNX_SUBSET_PROTO, { keepCase: true }).root;
    modelType = root.lookupType('onnx.ModelProto');
  }
  return modelType;
}

/** A node attribute, tagged with its ONNX type (a bare JS number cannot say int or float). */
export type OnnxAttribute =
  | { int: number }
  | { ints: readonly number[] }
  | { float: number }
  | { floats: readonly number[] }
  | { string: string };

/** A tensor dimension: a fixed size, or a symbolic name such as "N" for a dynamic batch. */
export type OnnxDim = number | string;

export interface OnnxModelOptions {
  /** ONNX IR version (7 goes with opset 12-13). */
  irVersion: number;
  /** Version of the default ("ai.onnx") operator set. */
  opsetVersion: number;
  producerName: string;
  producerVersion: string;
  docString?: string;
  /** Written as metadata_props, in key order. */
  metadata?: Record<string, string>;
}

interface ValueInfo {
  name: string;
  elemType: number;
  shape: readonly OnnxDim[];
}

function product(dims: readonly number[]): number {
  return dims.reduce((a, b) => a * b, 1);
}

function checkDims(what: string, dims: readonly number[]): void {
  for (const d of dims) {
    if (!Number.isInteger(d) || d < 0) throw new Error(`${what}: dims must be non-negative integers, got [${dims.join(', ')}]`);
  }
}

function float32LittleEndian(data: Float32Array): Uint8Array {
  const bytes = new Uint8Array(data.length * 4);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < data.length; i++) view.setFloat32(i * 4, data[i], true);
  return bytes;
}

function int64LittleEndian(data: readonly number[]): Uint8Array {
  const bytes = new Uint8Array(data.length * 8);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < data.length; i++) {
    if (!Number.isSafeInteger(data[i])) throw new Error(`int64 initializer value ${data[i]} is not a safe integer`);
    view.setBigInt64(i * 8, BigInt(data[i]), true);
  }
  return bytes;
}

function encodeAttribute(name: string, a: OnnxAttribute): Record<string, unknown> {
  if ('int' in a) {
    if (!Number.isSafeInteger(a.int)) throw new Error(`attribute ${name}: int ${a.int} is not an integer`);
    return { name, type: AttributeType.INT, i: a.int };
  }
  if ('ints' in a) {
    for (const v of a.ints) if (!Number.isSafeInteger(v)) throw new Error(`attribute ${name}: ints holds a non-integer ${v}`);
    return { name, type: AttributeType.INTS, ints: [...a.ints] };
  }
  if ('float' in a) return { name, type: AttributeType.FLOAT, f: a.float };
  if ('floats' in a) return { name, type: AttributeType.FLOATS, floats: [...a.floats] };
  return { name, type: AttributeType.STRING, s: Buffer.from(a.string, 'utf8') };
}

function encodeValueInfo(v: ValueInfo): Record<string, unknown> {
  return {
    name: v.name,
    type: {
      tensor_type: {
        elem_type: v.elemType,
        shape: { dim: v.shape.map((d) => (typeof d === 'number' ? { dim_value: d } : { dim_param: d })) },
      },
    },
  };
}

/**
 * Builds one ONNX graph node by node. Names must be unique; every node input must already be a
 * graph input, an initializer or an earlier node's output (so the node list stays topologically
 * sorted, as ONNX requires).
 */
export class OnnxGraphBuilder {
  private readonly nodes: Record<string, unknown>[] = [];
  private readonly initializers: Record<string, unknown>[] = [];
  private readonly inputs: ValueInfo[] = [];
  private readonly outputs: ValueInfo[] = [];
  private readonly known = new Set<string>();
  private readonly nodeNames = new Set<string>();
  private counter = 0;

  constructor(private readonly graphName: string) {}

  /** A fresh value name "<prefix>_<k>" that is not used yet. */
  uniqueName(prefix: string): string {
    let name: string;
    do name = `${prefix}_${this.counter++}`;
    while (this.known.has(name));
    return name;
  }

  private define(name: string, what: string): void {
    if (!name) throw new Error(`${what}: empty value name`);
    if (this.known.has(name)) throw new Error(`${what}: value name "${name}" is already defined in graph ${this.graphName}`);
    this.known.add(name);
  }

  /** A graph input; use a string dim (e.g. "N") for a dynamic axis. */
  addInput(name: string, shape: readonly OnnxDim[], elemType: number = OnnxDataType.FLOAT): string {
    this.define(name, 'graph input');
    this.inputs.push({ name, elemType, shape: [...shape] });
    return name;
  }

  /** Declares an already-produced value as a graph output. */
  addOutput(name: string, shape: readonly OnnxDim[], elemType: number = OnnxDataType.FLOAT): string {
    if (!this.known.has(name)) throw new Error(`graph output "${name}" is not produced by any node, input or initializer`);
    this.outputs.push({ name, elemType, shape: [...shape] });
    return name;
  }

  /** A float32 initializer (a constant tensor). `data.length` must equal the product of `dims`. */
  addInitializer(name: string, dims: readonly number[], data: Float32Array): string {
    checkDims(`initializer ${name}`, dims);
    if (data.length !== product(dims)) {
      throw new Error(`initializer ${name}: ${data.length} values for dims [${dims.join(', ')}] (expected ${product(dims)})`);
    }
    this.define(name, 'initializer');
    this.initializers.push({ name, dims: [...dims], data_type: OnnxDataType.FLOAT, raw_data: float32LittleEndian(data) });
    return name;
  }

  /** An int64 initializer (shapes, pads, axes). */
  addInt64Initializer(name: string, dims: readonly number[], data: readonly number[]): string {
    checkDims(`initializer ${name}`, dims);
    if (data.length !== product(dims)) {
      throw new Error(`initializer ${name}: ${data.length} values for dims [${dims.join(', ')}] (expected ${product(dims)})`);
    }
    this.define(name, 'initializer');
    this.initializers.push({ name, dims: [...dims], data_type: OnnxDataType.INT64, raw_data: int64LittleEndian(data) });
    return name;
  }

  /**
   * Appends a node of the default domain. `outputs` are new value names; the node's name is its first
   * output unless given. Returns the outputs.
   */
  addNode(
    opType: string,
    inputs: readonly string[],
    outputs: readonly string[],
    attributes: Record<string, OnnxAttribute> = {},
    name?: string,
  ): string[] {
    for (const i of inputs) {
      if (i !== '' && !this.known.has(i)) {
        throw new Error(`${opType} node: input "${i}" is not defined yet (graph inputs, initializers and earlier node outputs only)`);
      }
    }
    if (outputs.length === 0) throw new Error(`${opType} node: needs at least one output`);
    const nodeName = name ?? outputs[0];
    if (this.nodeNames.has(nodeName)) throw new Error(`${opType} node: node name "${nodeName}" is already used`);
    for (const o of outputs) this.define(o, `${opType} node output`);
    this.nodeNames.add(nodeName);
    this.nodes.push({
      input: [...inputs],
      output: [...outputs],
      name: nodeName,
      op_type: opType,
      attribute: Object.keys(attributes)
        .sort()
        .map((k) => encodeAttribute(k, attributes[k])),
    });
    return [...outputs];
  }

  /** Shorthand for a single-output node whose output gets a fresh name from `prefix` (default: op type). */
  op(opType: string, inputs: readonly string[], attributes: Record<string, OnnxAttribute> = {}, prefix?: string): string {
    return this.addNode(opType, inputs, [this.uniqueName(prefix ?? opType)], attributes)[0];
  }

  /** Serialises the model (ModelProto bytes). */
  toModelBytes(options: OnnxModelOptions): Uint8Array {
    if (this.inputs.length === 0) throw new Error(`graph ${this.graphName} has no inputs`);
    if (this.outputs.length === 0) throw new Error(`graph ${this.graphName} has no outputs`);
    const metadata = options.metadata ?? {};
    const model = {
      ir_version: options.irVersion,
      producer_name: options.producerName,
      producer_version: options.producerVersion,
      doc_string: options.docString,
      graph: {
        node: this.nodes,
        name: this.graphName,
        initializer: this.initializers,
        input: this.inputs.map(encodeValueInfo),
        output: this.outputs.map(encodeValueInfo),
      },
      opset_import: [{ domain: '', version: options.opsetVersion }],
      metadata_props: Object.keys(metadata)
        .sort()
        .map((key) => ({ key, value: metadata[key] })),
    };
    const type = onnxModelType();
    const problem = type.verify(model);
    if (problem) throw new Error(`internal error: ONNX model does not fit onnx.ModelProto: ${problem}`);
    return type.encode(type.fromObject(model)).finish();
  }
}
