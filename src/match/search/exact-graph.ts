/**
 * The ONNX graphs of the exact index, written with the project's ONNX writer (models/convert/onnx-proto.ts):
 *
 *   scores = Gemm(queries [B,dim], rows [N,dim], bias [N], transB = 1)   -- queries · rowsᵀ + bias, [B,N]
 *   (values, indices) = TopK(scores, k, axis 1, largest, sorted)         -- [B,k] each
 *
 * The rows are a graph input, not an initializer: the index feeds views on the caller's Float32Array chunk by
 * chunk (no copy of a 512 MB gallery into model bytes and again into onnxruntime), and TopK keeps the output at
 * B x k instead of B x N. Measured on the 2-core development machine (N = 100k, B = 256): rows as an initializer
 * (prepacked by onnxruntime) were no faster than rows as an input, and took ~2.7 extra copies of the rows in
 * memory; returning the full [B,N] score block instead of TopK was about twice as slow (the copy out dominates).
 * onnxruntime's MLAS GEMM does the arithmetic.
 */
import { OnnxDataType, OnnxGraphBuilder } from '../../models/convert/onnx-proto';

const MODEL_OPTIONS = { irVersion: 7, opsetVersion: 13, producerName: 'facestream', producerVersion: '0.1.0' } as const;

/** Input and output names of the graphs. */
export const EXACT_IO = { queries: 'queries', rows: 'rows', bias: 'bias', k: 'k', values: 'values', indices: 'indices', scores: 'scores' } as const;

/** queries [B,dim] x rows [N,dim] (+ bias [N]) → TopK values [B,k] (float) and indices [B,k] (int64); k an input. */
export function topKScoringModel(dim: number, withBias: boolean): Uint8Array {
  const g = new OnnxGraphBuilder('facestream_exact_topk');
  const q = g.addInput(EXACT_IO.queries, ['B', dim]);
  const w = g.addInput(EXACT_IO.rows, ['N', dim]);
  const inputs = [q, w];
  if (withBias) inputs.push(g.addInput(EXACT_IO.bias, ['N']));
  const k = g.addInput(EXACT_IO.k, [1], OnnxDataType.INT64);
  const s = g.op('Gemm', inputs, { transB: { int: 1 } }, 'scores');
  g.addNode('TopK', [s, k], [EXACT_IO.values, EXACT_IO.indices], { axis: { int: 1 }, largest: { int: 1 }, sorted: { int: 1 } });
  g.addOutput(EXACT_IO.values, ['B', 'K']);
  g.addOutput(EXACT_IO.indices, ['B', 'K'], OnnxDataType.INT64);
  return g.toModelBytes({ ...MODEL_OPTIONS, docString: 'facestream exact gallery search: Gemm + TopK' });
}

/** The plain product queries [B,dim] x rows [N,dim]ᵀ → scores [B,N] (the benchmark's baseline). */
export function plainProductModel(dim: number): Uint8Array {
  const g = new OnnxGraphBuilder('facestream_plain_product');
  const q = g.addInput(EXACT_IO.queries, ['B', dim]);
  const w = g.addInput(EXACT_IO.rows, ['N', dim]);
  g.addNode('Gemm', [q, w], [EXACT_IO.scores], { transB: { int: 1 } });
  g.addOutput(EXACT_IO.scores, ['B', 'N']);
  return g.toModelBytes({ ...MODEL_OPTIONS, docString: 'plain batched matrix product (baseline)' });
}
