/** Messages between Embedder (main thread) and its worker thread (worker.ts). Buffers are transferred, not copied. */
import type { ResolvedEmbedder } from '../models/registry';
import type { EmbedderSessionOptions, ModelIo } from './session';

export interface WorkerInit {
  resolved: ResolvedEmbedder;
  options: EmbedderSessionOptions;
}

export type ToWorker =
  /** n crops of the descriptor's size, packed BGR uint8 back to back from offset 0 of `buf`. */
  | { type: 'crops'; id: number; buf: ArrayBuffer; n: number }
  /** n rows of a ready float tensor at `byteOffset` of `buf`. */
  | { type: 'tensor'; id: number; buf: ArrayBuffer; byteOffset: number; n: number }
  | { type: 'close' };

export type FromWorker =
  | { type: 'ready'; provider: string; fallbacks: string[]; io: ModelIo }
  | { type: 'init-error'; name: string; message: string }
  /** n * size floats at `byteOffset` of `out`; `input` gives the request's buffer back for reuse. */
  | { type: 'result'; id: number; out: ArrayBuffer; byteOffset: number; n: number; input: ArrayBuffer }
  | { type: 'error'; id: number; name: string; message: string }
  | { type: 'closed' };
