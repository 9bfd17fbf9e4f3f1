/**
 * Makes fixed dimensions of an ONNX model's graph inputs/outputs symbolic, in memory. YuNet 2022mar declares its
 * input as [1, 3, 120, 160] although its graph computes every shape at run time (Shape/Gather/Concat before each
 * Reshape): OpenCV dnn ignores the declaration and reshapes, onnxruntime enforces it. Rewriting the declared
 * dims lets onnxruntime run the same file at the analysis size.
 *
 * Hand-written protobuf surgery rather than decode + re-encode: onnx.proto is large and a decoder that does not
 * declare every field drops what it does not know. This walks only the path
 * ModelProto.graph(7) -> GraphProto.input(11)/output(12) -> ValueInfoProto.type(2) -> TypeProto.tensor_type(1)
 * -> shape(2) -> dim(1) and copies every other byte as it is. Pure (no I/O).
 */
import protobuf from 'protobufjs';

/**
 * Per graph input/output name, the new symbolic name of each dimension to free (by index), or null to keep it.
 * Example: { input: [null, null, 'height', 'width'] }.
 */
export type DimSpec = Record<string, readonly (string | null)[]>;

const WIRE_LEN = 2;

/** Protobuf varint bytes of a non-negative integer below 2^53. */
function varint(n: number): Uint8Array {
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n % 0x80) | 0x80);
    n = Math.floor(n / 0x80);
  }
  out.push(n);
  return Uint8Array.from(out);
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** A length-delimited field: tag, length, payload. */
function lenField(field: number, payload: Uint8Array): Uint8Array[] {
  return [varint(field * 8 + WIRE_LEN), varint(payload.length), payload];
}

/** Rewrites the length-delimited fields `edit` returns a new payload for, copying every other byte verbatim. */
function rewriteFields(buf: Uint8Array, edit: (field: number, payload: Uint8Array) => Uint8Array | undefined): Uint8Array {
  const r = protobuf.Reader.create(buf);
  const parts: Uint8Array[] = [];
  let copyFrom = 0;
  while (r.pos < r.len) {
    const start = r.pos;
    const tag = r.uint32();
    const field = tag >>> 3;
    const wire = tag & 7;
    if (wire === WIRE_LEN) {
      const payload = r.bytes();
      const replaced = edit(field, payload);
      if (replaced !== undefined && replaced !== payload) {
        parts.push(buf.subarray(copyFrom, start), ...lenField(field, replaced));
        copyFrom = r.pos;
      }
    } else {
      r.skipType(wire);
    }
  }
  if (copyFrom === 0) return buf;
  parts.push(buf.subarray(copyFrom));
  return concat(parts);
}

/** The string in a length-delimited field `field` of a message (first occurrence), or undefined. */
function stringField(buf: Uint8Array, field: number): string | undefined {
  const r = protobuf.Reader.create(buf);
  while (r.pos < r.len) {
    const tag = r.uint32();
    if (tag >>> 3 === field && (tag & 7) === WIRE_LEN) return r.string();
    r.skipType(tag & 7);
  }
  return undefined;
}

function rewriteShape(shape: Uint8Array, names: readonly (string | null)[], what: string): Uint8Array {
  let index = 0;
  return rewriteFields(shape, (field, dim) => {
    if (field !== 1) return undefined; // TensorShapeProto.dim
    const name = names[index++];
    if (!name) return undefined;
    // Dimension: dim_value = 1 (varint), dim_param = 2 (string), denotation = 3 (kept).
    const r = protobuf.Reader.create(dim);
    const parts: Uint8Array[] = [];
    let hadValue = false;
    while (r.pos < r.len) {
      const start = r.pos;
      const tag = r.uint32();
      const f = tag >>> 3;
      r.skipType(tag & 7);
      if (f === 1 || f === 2) {
        hadValue = true;
        continue;
      }
      parts.push(dim.subarray(start, r.pos));
    }
    if (!hadValue) throw new Error(`${what}: dimension ${index - 1} is neither fixed nor symbolic`);
    parts.push(...lenField(2, new TextEncoder().encode(name)));
    return concat(parts);
  });
}

/**
 * The model with the dims named in `spec` made symbolic. Throws when a named input/output is absent or has
 * fewer dims than the spec lists (the spec was written for another model).
 */
export function withSymbolicDims(model: Uint8Array, spec: DimSpec): Uint8Array {
  const seen = new Set<string>();
  const out = rewriteFields(model, (field, graph) => {
    if (field !== 7) return undefined; // ModelProto.graph
    return rewriteFields(graph, (gField, valueInfo) => {
      if (gField !== 11 && gField !== 12) return undefined; // GraphProto.input / output
      const name = stringField(valueInfo, 1);
      if (name === undefined || !(name in spec)) return undefined;
      seen.add(name);
      let dims = 0;
      const rewritten = rewriteFields(valueInfo, (vField, type) => {
        if (vField !== 2) return undefined; // ValueInfoProto.type
        return rewriteFields(type, (tField, tensor) => {
          if (tField !== 1) return undefined; // TypeProto.tensor_type
          return rewriteFields(tensor, (sField, shape) => {
            if (sField !== 2) return undefined; // Tensor.shape
            const r = protobuf.Reader.create(shape);
            while (r.pos < r.len) {
              const tag = r.uint32();
              if (tag >>> 3 === 1) dims++;
              r.skipType(tag & 7);
            }
            return rewriteShape(shape, spec[name], `ONNX value "${name}"`);
          });
        });
      });
      if (dims < spec[name].length) {
        throw new Error(`ONNX value "${name}" has ${dims} dims; the dims spec lists ${spec[name].length}`);
      }
      return rewritten;
    });
  });
  const missing = Object.keys(spec).filter((n) => !seen.has(n));
  if (missing.length > 0) {
    throw new Error(`the ONNX graph has no input or output named ${missing.map((n) => `"${n}"`).join(', ')}`);
  }
  return out;
}
