/**
 * Opens an embedder's ONNX model with onnxruntime-node and checks it against its descriptor, so a
 * wrong model fails at load with a message naming the file, what was expected and what was found,
 * instead of producing wrong embeddings later.
 *
 * Execution providers are tried in the configured order (e.g. ['cuda', 'cpu']). onnxruntime-node
 * ships the CUDA provider as a separate download that installs skip (ONNXRUNTIME_NODE_INSTALL=skip)
 * leaves out; then the session falls back to the next provider and says so once per process.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import type { EmbedderDescriptor } from '../models/descriptor';
import type { ResolvedEmbedder } from '../models/registry';
import { logger } from '../util/log';

export type GraphOptimizationLevel = 'disabled' | 'basic' | 'extended' | 'all';

export interface EmbedderSessionOptions {
  /** Threads one operator may use; default: onnxruntime's (the number of physical cores). */
  intraOpNumThreads?: number;
  /** Threads across independent operators (only used by the parallel execution mode); default 1. */
  interOpNumThreads?: number;
  /** Default 'all'. */
  graphOptimizationLevel?: GraphOptimizationLevel;
  /** Preference order, e.g. ['cuda', 'cpu']; default ['cpu']. */
  executionProviders?: string[];
}

export interface EmbedderSession {
  session: ort.InferenceSession;
  /** The execution provider the session was created with ('cuda', 'cpu', ...). */
  provider: string;
  /** Why earlier providers in the list were not used; empty when the first one was. */
  fallbacks: string[];
  io: ModelIo;
}

/** What validation learnt about the model's input and output. */
export interface ModelIo {
  inputName: string;
  outputName: string;
  /** The model's fixed batch size, or null when the batch dimension is dynamic. */
  fixedBatch: number | null;
}

/** The metadata validation needs (a subset of onnxruntime's InferenceSession). */
export interface ModelMetadata {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  readonly inputMetadata: readonly ort.InferenceSession.ValueMetadata[];
  readonly outputMetadata: readonly ort.InferenceSession.ValueMetadata[];
}

export class ModelMismatchError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ModelMismatchError';
  }
}

function shapeText(shape: readonly (number | string)[]): string {
  return `[${shape.map((s) => (typeof s === 'string' ? `"${s}"` : String(s))).join(', ')}]`;
}

/**
 * Checks the model's input/output against the descriptor: the input exists, is float32 and rank 4
 * with the layout's channel and spatial sizes (a symbolic dimension is accepted: dynamic batch or
 * size); the output's non-batch dimensions multiply to descriptor.output.size.
 */
export function validateModelIo(meta: ModelMetadata, d: EmbedderDescriptor, file: string): ModelIo {
  const fail = (what: string): never => {
    throw new ModelMismatchError(`embedder model ${file} does not match descriptor "${d.name}": ${what}`);
  };
  const inputName = d.input.name ?? meta.inputNames[0];
  if (inputName === undefined) fail('the model has no inputs');
  const inIndex = meta.inputNames.indexOf(inputName);
  if (inIndex < 0) {
    fail(`expected input "${inputName}", the model's inputs are ${meta.inputNames.map((n) => `"${n}"`).join(', ')}`);
  }
  const input = meta.inputMetadata[inIndex];
  if (!input.isTensor) fail(`input "${inputName}" is not a tensor`);
  if (input.isTensor && input.type !== 'float32') fail(`expected input "${inputName}" of type float32, found ${input.type}`);
  const { width: w, height: h, layout } = d.input;
  const expected: (number | null)[] = layout === 'NCHW' ? [null, 3, h, w] : [null, h, w, 3];
  const expectedText = layout === 'NCHW' ? `[batch, 3, ${h}, ${w}] (NCHW)` : `[batch, ${h}, ${w}, 3] (NHWC)`;
  const shape = input.isTensor ? input.shape : [];
  // An empty shape means the model does not declare one; the first run then checks the sizes.
  if (shape.length > 0) {
    const bad =
      shape.length !== 4 || expected.some((e, i) => e !== null && typeof shape[i] === 'number' && shape[i] !== e);
    if (bad) fail(`expected input "${inputName}" of shape ${expectedText}, found ${shapeText(shape)}`);
  }
  const batchDim = shape[0];
  const fixedBatch = typeof batchDim === 'number' && batchDim > 0 ? batchDim : null;

  const outputName = d.output.name ?? meta.outputNames[0];
  if (outputName === undefined) fail('the model has no outputs');
  const outIndex = meta.outputNames.indexOf(outputName);
  if (outIndex < 0) {
    fail(`expected output "${outputName}", the model's outputs are ${meta.outputNames.map((n) => `"${n}"`).join(', ')}`);
  }
  const output = meta.outputMetadata[outIndex];
  if (!output.isTensor) fail(`output "${outputName}" is not a tensor`);
  if (output.isTensor && output.type !== 'float32') fail(`expected output "${outputName}" of type float32, found ${output.type}`);
  const outShape = output.isTensor ? output.shape : [];
  const rest = outShape.slice(1);
  if (outShape.length > 0 && rest.every((s): s is number => typeof s === 'number')) {
    const size = rest.reduce((a, b) => a * b, 1);
    if (size !== d.output.size) {
      fail(
        `expected output "${outputName}" of size ${d.output.size} per face, found shape ${shapeText(outShape)} ` +
          `(${size} per face)`,
      );
    }
  }
  return { inputName, outputName, fixedBatch };
}

/** Where onnxruntime-node looks for the optional CUDA provider library on this platform, if known. */
function cudaProviderLibrary(): string | undefined {
  if (process.platform !== 'linux') return undefined;
  try {
    const pkg = path.dirname(require.resolve('onnxruntime-node/package.json'));
    return path.join(pkg, 'bin', 'napi-v6', 'linux', process.arch, 'libonnxruntime_providers_cuda.so');
  } catch {
    return undefined;
  }
}

let fallbackAnnounced = false;

/** Logs a provider fallback once per process (thread); later calls are silent. */
export function announceFallbackOnce(fallbacks: readonly string[], provider: string): void {
  if (fallbacks.length === 0 || fallbackAnnounced) return;
  fallbackAnnounced = true;
  logger().warn({ provider, fallbacks }, `embedder: ${fallbacks.join('; ')}; running on ${provider}`);
}

function sessionOptions(o: EmbedderSessionOptions, providers: string[]): ort.InferenceSession.SessionOptions {
  const opts: ort.InferenceSession.SessionOptions = {
    executionProviders: providers,
    graphOptimizationLevel: o.graphOptimizationLevel ?? 'all',
  };
  if (o.intraOpNumThreads !== undefined) opts.intraOpNumThreads = o.intraOpNumThreads;
  if (o.interOpNumThreads !== undefined) opts.interOpNumThreads = o.interOpNumThreads;
  return opts;
}

export interface CreateSessionExtra {
  /** Log a fallback (once per process); default true. The worker passes false and lets the main thread log. */
  announce?: boolean;
}

/**
 * Creates and validates a session. Providers are tried in order: a provider that cannot be loaded
 * is dropped with a note in `fallbacks` and the next one is tried; when the last one fails, its
 * error is thrown (a broken model fails on every provider, so the real cause is reported).
 */
export async function createEmbedderSession(
  resolved: ResolvedEmbedder,
  options: EmbedderSessionOptions = {},
  extra: CreateSessionExtra = {},
): Promise<EmbedderSession> {
  const wanted = (options.executionProviders ?? ['cpu']).map((p) => p.toLowerCase());
  if (wanted.length === 0) throw new Error('executionProviders must name at least one provider (e.g. ["cpu"])');
  const fallbacks: string[] = [];
  let providers = wanted;
  const cudaLib = cudaProviderLibrary();
  // Known absent: skip without letting onnxruntime print its native load error.
  if (providers[0] === 'cuda' && cudaLib && !existsSync(cudaLib)) {
    const why =
      `CUDA execution provider not installed (${path.basename(cudaLib)} absent; onnxruntime-node was installed ` +
      'without it, e.g. ONNXRUNTIME_NODE_INSTALL=skip)';
    if (providers.length === 1) {
      throw new Error(`cannot open embedder model ${resolved.path} with execution provider cuda: ${why}`);
    }
    fallbacks.push(why);
    providers = providers.slice(1);
  }
  for (;;) {
    let session: ort.InferenceSession;
    try {
      session = await ort.InferenceSession.create(resolved.path, sessionOptions(options, providers));
    } catch (err) {
      if (providers.length <= 1) {
        const e = err as Error;
        e.message = `cannot open embedder model ${resolved.path} with execution provider ${providers[0]}: ${e.message}`;
        throw e;
      }
      fallbacks.push(`execution provider ${providers[0]} unavailable (${(err as Error).message.split('\n')[0]})`);
      providers = providers.slice(1);
      continue;
    }
    let io: ModelIo;
    try {
      io = validateModelIo(session, resolved.descriptor, resolved.path);
    } catch (err) {
      await session.release();
      throw err;
    }
    const provider = providers[0];
    if (extra.announce !== false) announceFallbackOnce(fallbacks, provider);
    return { session, provider, fallbacks, io };
  }
}
