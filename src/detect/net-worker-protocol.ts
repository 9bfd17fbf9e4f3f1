/**
 * Messages between OrtWorker (net-runner.ts) and its thread (net-worker.ts). Tensors travel through shared
 * memory slots (SharedArrayBuffers handed over once, then named by number), never as ArrayBuffers in messages:
 * every ArrayBuffer a thread receives counts as new external memory for V8, and with inputs and outputs sent
 * that way (measured with YuNet on 1280x720 frames) the main thread ran a full garbage collection every three
 * frames and the process spent ~10 ms more CPU per frame than with the networks on the main thread.
 */
import type { DimSpec } from './onnx-dims';

export type ToNetWorker =
  | { type: 'open'; session: number; file: string; symbolicDims?: DimSpec }
  /** A new shared slot (sent once; runs name it by number). */
  | { type: 'slot'; slot: number; sab: SharedArrayBuffer }
  /** float32 input: the first `length` values of slot `input`; outputs go to slot `out` (see 'result'). */
  | { type: 'run'; id: number; session: number; input: number; length: number; dims: number[]; outputs: string[]; out: number }
  | { type: 'release'; session: number }
  /** Release every session, then end the thread (after the requests before it). */
  | { type: 'close' };

/** An output: `length` float32 values from `offset` (in values) of the run's output slot. */
export interface WireTensor {
  offset: number;
  length: number;
  dims: number[];
}

export type FromNetWorker =
  | { type: 'opened'; session: number }
  | { type: 'open-error'; session: number; message: string }
  /** `grown`: the outputs did not fit the output slot, so the worker replaced it with this larger one. */
  | { type: 'result'; id: number; outputs: WireTensor[]; grown?: SharedArrayBuffer }
  | { type: 'error'; id: number; message: string };
