/**
 * The embedding stage: aligned crops → L2-normalised embeddings, off the main thread.
 *
 * Inference runs in a worker thread (worker.ts) because onnxruntime-node 1.30's session.run()
 * blocks the calling thread's event loop for the whole inference. The main thread only validates
 * and packs the crops into one reused byte buffer and transfers it; preprocessing, inference,
 * flip-sum and normalisation happen in the worker, and results come back as transferred buffers.
 */
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { EmbedderDescriptor } from '../models/descriptor';
import type { ResolvedEmbedder } from '../models/registry';
import { distance, DistanceKind } from './distance';
import { checkCrop, Crop, itemSize } from './preprocess';
import type { FromWorker, ToWorker, WorkerInit } from './protocol';
import { announceFallbackOnce, EmbedderSessionOptions, ModelIo, ModelMismatchError } from './session';

export { distance, DistanceKind };
export type { Crop };

export interface EmbedderOptions extends EmbedderSessionOptions {
  /** Most crops per inference batch (flip augmentation counts twice); default 32. */
  maxBatch?: number;
}

export interface EmbedTensorOptions {
  /**
   * Copy the tensor instead of transferring its buffer to the worker. By default a tensor that
   * spans its whole ArrayBuffer is transferred (no copy) and is detached (length 0) afterwards.
   */
  copy?: boolean;
}

interface Pending {
  resolve: (msg: Extract<FromWorker, { type: 'result' }>) => void;
  reject: (err: Error) => void;
}

function remoteError(name: string, message: string): Error {
  const err = name === 'ModelMismatchError' ? new ModelMismatchError(message) : new Error(message);
  if (name && err.name !== name) err.name = name;
  return err;
}

export class Embedder {
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private closed = false;
  private exited = false;
  private failure: Error | undefined;
  /** Packing buffers the worker gave back, reused for later requests. */
  private readonly pool: ArrayBuffer[] = [];
  private readonly item: number;
  private readonly cropsPerBatch: number;

  private constructor(
    private readonly worker: Worker,
    readonly descriptor: EmbedderDescriptor,
    /** Execution provider in use ('cpu', 'cuda', ...). */
    readonly provider: string,
    /** The model's input/output names and fixed batch size (null: dynamic). */
    readonly io: ModelIo,
    readonly maxBatch: number,
  ) {
    this.item = itemSize(descriptor);
    this.cropsPerBatch = descriptor.flipAugment ? Math.max(1, Math.floor(maxBatch / 2)) : maxBatch;
    worker.on('message', (msg: FromWorker) => this.onMessage(msg));
    worker.on('error', (err) => this.fail(new Error(`embedder worker failed: ${err.message}`)));
    worker.on('exit', (code) => {
      this.exited = true;
      if (!this.closed) this.fail(new Error(`embedder worker exited unexpectedly (code ${code})`));
    });
    worker.unref();
  }

  /** Opens the model in a worker thread and validates it against its descriptor. */
  static async create(resolved: ResolvedEmbedder, options: EmbedderOptions = {}): Promise<Embedder> {
    const { maxBatch = 32, ...sessionOptions } = options;
    if (!Number.isInteger(maxBatch) || maxBatch < 1) {
      throw new RangeError(`maxBatch must be a positive integer, got ${maxBatch}`);
    }
    const init: WorkerInit = { resolved, options: sessionOptions };
    const worker = new Worker(path.join(__dirname, 'worker.js'), { workerData: init });
    const ready = await new Promise<Extract<FromWorker, { type: 'ready' }>>((resolve, reject) => {
      const onMessage = (msg: FromWorker): void => {
        cleanup();
        if (msg.type === 'ready') resolve(msg);
        else if (msg.type === 'init-error') reject(remoteError(msg.name, msg.message));
        else reject(new Error(`embedder worker: unexpected first message ${msg.type}`));
      };
      const onError = (err: Error): void => {
        cleanup();
        reject(new Error(`embedder worker failed to start: ${err.message}`));
      };
      const onExit = (code: number): void => {
        cleanup();
        reject(new Error(`embedder worker exited during start-up (code ${code})`));
      };
      const cleanup = (): void => {
        worker.off('message', onMessage);
        worker.off('error', onError);
        worker.off('exit', onExit);
      };
      worker.on('message', onMessage);
      worker.on('error', onError);
      worker.on('exit', onExit);
    }).catch(async (err: Error) => {
      await worker.terminate();
      throw err;
    });
    announceFallbackOnce(ready.fallbacks, ready.provider);
    const embedder = new Embedder(worker, resolved.descriptor, ready.provider, ready.io, maxBatch);
    // One blank run at start-up: onnxruntime's first run sets up far more than later ones, and the first face of a
    // camera should not wait for it.
    const d = resolved.descriptor.input;
    try {
      await embedder.embedTensor(new Float32Array(d.width * d.height * 3), 1);
    } catch (err) {
      await embedder.close();
      throw err;
    }
    return embedder;
  }

  /**
   * Embeds crops (BGR uint8 of the descriptor's input size); one embedding per crop, in order,
   * each `descriptor.output.size` long. Embeddings of one batch are views on one buffer.
   */
  async embed(crops: readonly Crop[]): Promise<Float32Array[]> {
    this.assertOpen();
    for (let i = 0; i < crops.length; i++) checkCrop(crops[i], i, this.descriptor);
    const jobs: Promise<Float32Array[]>[] = [];
    for (let start = 0; start < crops.length; start += this.cropsPerBatch) {
      const chunk = crops.slice(start, start + this.cropsPerBatch);
      const bytes = chunk.length * this.item;
      const buf = this.takeBuffer(bytes);
      const packed = new Uint8Array(buf, 0, bytes);
      for (let i = 0; i < chunk.length; i++) packed.set(chunk[i].data, i * this.item);
      jobs.push(this.request({ type: 'crops', id: 0, buf, n: chunk.length }, [buf]).then((r) => this.split(r)));
    }
    return (await Promise.all(jobs)).flat();
  }

  /**
   * Embeds a ready batch of n rows laid out as the model expects (preprocessed, descriptor's layout,
   * colour order and normalisation). Flip augmentation does not apply; L2 normalisation does.
   * The tensor's buffer is transferred to the worker (see EmbedTensorOptions.copy).
   */
  async embedTensor(tensor: Float32Array, n: number, opts: EmbedTensorOptions = {}): Promise<Float32Array[]> {
    this.assertOpen();
    if (!Number.isInteger(n) || n < 0 || tensor.length !== n * this.item) {
      const { width, height, layout } = this.descriptor.input;
      throw new RangeError(
        `embedTensor: tensor holds ${tensor.length} floats, expected n x ${this.item} = ${n * this.item} ` +
          `for n = ${n} (${layout} ${width}x${height}x3)`,
      );
    }
    if (n === 0) return [];
    const whole =
      !opts.copy &&
      tensor.buffer instanceof ArrayBuffer &&
      tensor.byteOffset === 0 &&
      tensor.byteLength === tensor.buffer.byteLength;
    const buf = whole ? (tensor.buffer as ArrayBuffer) : tensor.slice().buffer;
    const r = await this.request({ type: 'tensor', id: 0, buf, byteOffset: 0, n }, [buf]);
    return this.split(r);
  }

  /** Stops the worker and releases the model; pending requests are rejected. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.exited) return;
    const done = new Promise<void>((resolve) => this.worker.once('exit', () => resolve()));
    this.worker.ref();
    this.worker.postMessage({ type: 'close' } satisfies ToWorker);
    const timer = setTimeout(() => void this.worker.terminate(), 5000);
    await done;
    clearTimeout(timer);
    this.rejectAll(new Error('embedder closed'));
  }

  /** Distance between two embeddings of this model, with the descriptor's distance kind. */
  distance(a: ArrayLike<number>, b: ArrayLike<number>): number {
    return distance(a, b, this.descriptor.distance);
  }

  private assertOpen(): void {
    if (this.failure) throw this.failure;
    if (this.closed) throw new Error('embedder is closed');
  }

  private takeBuffer(bytes: number): ArrayBuffer {
    const i = this.pool.findIndex((b) => b.byteLength >= bytes);
    if (i >= 0) return this.pool.splice(i, 1)[0];
    return new ArrayBuffer(this.cropsPerBatch * this.item >= bytes ? this.cropsPerBatch * this.item : bytes);
  }

  private split(r: Extract<FromWorker, { type: 'result' }>): Float32Array[] {
    const size = this.descriptor.output.size;
    const out: Float32Array[] = [];
    for (let i = 0; i < r.n; i++) out.push(new Float32Array(r.out, r.byteOffset + i * size * 4, size));
    return out;
  }

  private request(msg: ToWorker & { id: number }, transfer: ArrayBuffer[]): Promise<Extract<FromWorker, { type: 'result' }>> {
    const id = this.nextId++;
    msg.id = id;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      if (this.pending.size === 1) this.worker.ref();
      this.worker.postMessage(msg, transfer);
    });
  }

  private settle(id: number): Pending | undefined {
    const p = this.pending.get(id);
    this.pending.delete(id);
    if (this.pending.size === 0 && !this.closed) this.worker.unref();
    return p;
  }

  private onMessage(msg: FromWorker): void {
    if (msg.type === 'result') {
      if (msg.input.byteLength === this.cropsPerBatch * this.item && this.pool.length < 4) this.pool.push(msg.input);
      this.settle(msg.id)?.resolve(msg);
    } else if (msg.type === 'error') {
      this.settle(msg.id)?.reject(remoteError(msg.name, msg.message));
    }
  }

  private fail(err: Error): void {
    this.failure ??= err;
    this.rejectAll(err);
  }

  private rejectAll(err: Error): void {
    for (const [id, p] of [...this.pending]) {
      this.pending.delete(id);
      p.reject(err);
    }
  }
}
