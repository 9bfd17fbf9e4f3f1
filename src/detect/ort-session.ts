/**
 * Opening and running a detector network with onnxruntime-node: the same code on the calling thread and in the
 * network worker (net-worker.ts). No OpenCV here, so the worker never loads the OpenCV binding (which cannot be
 * loaded in two threads of one process: its class templates are per process, not per thread).
 */
import { readFileSync } from 'node:fs';
import * as ort from 'onnxruntime-node';
import { type DimSpec, withSymbolicDims } from './onnx-dims';

/** A float32 tensor: data and shape. */
export interface Tensor {
  data: Float32Array;
  dims: readonly number[];
}

/**
 * One intra-op thread, sequential execution. Measured on the 2-core dev machine (CPU time per call, same input):
 * YuNet at 640x384 12-15 ms vs 23 ms with OpenCV dnn at 1 or 2 threads; 2 intra-op threads cost more CPU per
 * call than 1. A multi-camera process gets its parallelism from several cameras, not from splitting one
 * convolution.
 */
export const DETECTOR_SESSION_OPTIONS: ort.InferenceSession.SessionOptions = {
  executionProviders: ['cpu'],
  intraOpNumThreads: 1,
  interOpNumThreads: 1,
  executionMode: 'sequential',
  graphOptimizationLevel: 'all',
};

/** Loads `file` (its declared dims listed in `symbolicDims` made symbolic first). Errors name the file. */
export async function openDetectorSession(file: string, symbolicDims?: DimSpec): Promise<ort.InferenceSession> {
  try {
    let bytes: Uint8Array = readFileSync(file);
    if (symbolicDims) bytes = withSymbolicDims(bytes, symbolicDims);
    return await ort.InferenceSession.create(bytes, DETECTOR_SESSION_OPTIONS);
  } catch (err) {
    throw new Error(`cannot load detector network ${file} with onnxruntime: ${(err as Error)?.message ?? err}`);
  }
}

/** Runs the session's first input on `input`; returns the named float32 outputs in the order asked. */
export async function runSession(session: ort.InferenceSession, file: string, input: Tensor, outputs: readonly string[]): Promise<Tensor[]> {
  const feeds = { [session.inputNames[0]]: new ort.Tensor('float32', input.data, [...input.dims]) };
  const result = await session.run(feeds, [...outputs]);
  return outputs.map((name) => {
    const t = result[name];
    if (!t || t.type !== 'float32') throw new Error(`${file}: output "${name}" missing or not float32`);
    return { data: t.data as Float32Array, dims: t.dims };
  });
}
