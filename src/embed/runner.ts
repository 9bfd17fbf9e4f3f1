/**
 * Runs batches through an open embedder session: preprocessing into a reused buffer, inference
 * (in chunks of the model's batch size when that is fixed), flip-augmentation sum and L2
 * normalisation. It is what the embedder worker thread does for each request; it holds no thread
 * or message logic so it can also run in-process.
 */
import * as ort from 'onnxruntime-node';
import type { EmbedderDescriptor } from '../models/descriptor';
import { l2normalizeRows } from './distance';
import { Crop, inputDims, itemSize, writeTensor } from './preprocess';
import type { ModelIo } from './session';

export class BatchRunner {
  private scratch = new Float32Array(0);
  private readonly item: number;
  private readonly size: number;

  constructor(
    private readonly session: ort.InferenceSession,
    readonly descriptor: EmbedderDescriptor,
    readonly io: ModelIo,
  ) {
    this.item = itemSize(descriptor);
    this.size = descriptor.output.size;
  }

  /** Requests run one at a time: they share the preprocessing buffer. */
  private tail: Promise<unknown> = Promise.resolve();

  private serial<T>(job: () => Promise<T>): Promise<T> {
    const next = this.tail.then(job, job);
    this.tail = next.catch(() => undefined);
    return next;
  }

  private buffer(floats: number): Float32Array {
    if (this.scratch.length < floats) this.scratch = new Float32Array(floats);
    return this.scratch;
  }

  /**
   * Embeds n crops; returns n * output.size floats (row i = crop i), flip-summed and normalised as
   * the descriptor says. The result may be a view on a larger buffer.
   */
  runCrops(crops: readonly Crop[]): Promise<Float32Array> {
    return this.serial(() => this.cropsNow(crops));
  }

  private async cropsNow(crops: readonly Crop[]): Promise<Float32Array> {
    const n = crops.length;
    const flip = this.descriptor.flipAugment;
    const rows = flip ? 2 * n : n;
    const tensor = this.buffer(rows * this.item);
    writeTensor(crops, this.descriptor, tensor, 0);
    if (flip) writeTensor(crops, this.descriptor, tensor, n, { flip: true });
    const out = await this.infer(tensor, rows);
    if (flip) {
      const len = n * this.size;
      for (let i = 0; i < len; i++) out[i] += out[len + i];
    }
    return this.finish(out, n);
  }

  /** Embeds a ready tensor of n rows (no flip augmentation: the caller built the batch). */
  runTensor(tensor: Float32Array, n: number): Promise<Float32Array> {
    return this.serial(() => this.tensorNow(tensor, n));
  }

  private async tensorNow(tensor: Float32Array, n: number): Promise<Float32Array> {
    if (tensor.length < n * this.item) {
      throw new RangeError(
        `tensor holds ${tensor.length} floats, ${n} x ${this.item} = ${n * this.item} expected ` +
          `(${this.descriptor.input.layout} ${this.descriptor.input.width}x${this.descriptor.input.height}x3)`,
      );
    }
    return this.finish(await this.infer(tensor, n), n);
  }

  private finish(out: Float32Array, n: number): Float32Array {
    if (this.descriptor.l2normalize) l2normalizeRows(out, n, this.size);
    return out.length === n * this.size ? out : out.subarray(0, n * this.size);
  }

  private async runOnce(data: Float32Array, rows: number): Promise<Float32Array> {
    const feed = new ort.Tensor('float32', data, inputDims(this.descriptor, rows));
    const result = await this.session.run({ [this.io.inputName]: feed });
    const value = result[this.io.outputName] as ort.Tensor;
    const out = value.data as Float32Array;
    if (out.length !== rows * this.size) {
      throw new Error(
        `embedder "${this.descriptor.name}": output "${this.io.outputName}" has shape [${value.dims.join(', ')}] ` +
          `for a batch of ${rows}, expected ${rows} x ${this.size} values`,
      );
    }
    return out;
  }

  /** Inference on the first `rows` rows of `tensor`; returns rows * size floats. */
  private async infer(tensor: Float32Array, rows: number): Promise<Float32Array> {
    const fixed = this.io.fixedBatch;
    if (fixed === null) return this.runOnce(tensor.subarray(0, rows * this.item), rows);
    // Fixed batch size (e.g. exported with batch 1): run chunks of exactly `fixed` rows, padding the last.
    const out = new Float32Array(rows * this.size);
    for (let start = 0; start < rows; start += fixed) {
      const m = Math.min(fixed, rows - start);
      let chunk = tensor.subarray(start * this.item, (start + fixed) * this.item);
      if (m < fixed || chunk.length < fixed * this.item) {
        chunk = new Float32Array(fixed * this.item);
        chunk.set(tensor.subarray(start * this.item, (start + m) * this.item));
      }
      const part = await this.runOnce(chunk, fixed);
      out.set(part.subarray(0, m * this.size), start * this.size);
    }
    return out;
  }
}
