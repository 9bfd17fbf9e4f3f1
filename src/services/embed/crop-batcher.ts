/**
 * Dynamic batching of the embed service: crops from every chunk in flight (several partitions at once) are queued;
 * a batch is sent to the embedder when it holds `maxBatch` crops or its oldest crop has waited `maxWaitMs`.
 *
 * Unlike the embedded mode's EmbedBatcher (one batch at a time), up to `maxInFlight` batches (default 2) are handed
 * to the embedder at once. Its worker runs them one after the other, so while it computes one batch the next is
 * already waiting in it: the worker does not idle for the round trip between a result and the next request (with
 * one batch at a time, the embedder was busy only ~85% of the wall time while the service worked off a backlog of
 * 480 crops, 8 per batch, on 2 CPU cores shared with the broker).
 */
import type { Crop, Embedder } from '../../embed/embedder';

interface Item {
  crop: Crop;
  at: number;
  resolve: (e: Float32Array) => void;
  reject: (err: Error) => void;
}

export interface CropBatcherOptions {
  maxBatch: number;
  maxWaitMs: number;
  /** Batches handed to the embedder at once (default 2). */
  maxInFlight?: number;
  /** Each batch: crops and milliseconds from sending it to its result. */
  onBatch?: (size: number, ms: number) => void;
  now?: () => number;
}

export class CropBatcher {
  private queue: Item[] = [];
  private inFlight = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly maxInFlight: number;
  private readonly now: () => number;

  constructor(
    private readonly embedder: Pick<Embedder, 'embed'>,
    private readonly options: CropBatcherOptions,
  ) {
    if (!Number.isInteger(options.maxBatch) || options.maxBatch < 1) throw new RangeError(`maxBatch must be a positive integer, got ${options.maxBatch}`);
    this.maxInFlight = Math.max(1, options.maxInFlight ?? 2);
    this.now = options.now ?? Date.now;
  }

  embed(crop: Crop): Promise<Float32Array> {
    return new Promise((resolve, reject) => {
      this.queue.push({ crop, at: this.now(), resolve, reject });
      this.pump();
    });
  }

  /** Crops waiting for a batch. */
  get pending(): number {
    return this.queue.length;
  }

  private pump(): void {
    while (this.inFlight < this.maxInFlight && this.queue.length > 0) {
      const waited = this.now() - this.queue[0].at;
      if (this.queue.length < this.options.maxBatch && waited < this.options.maxWaitMs) {
        this.arm(this.options.maxWaitMs - waited);
        return;
      }
      this.send(this.queue.splice(0, this.options.maxBatch));
    }
  }

  private arm(ms: number): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.pump();
    }, Math.max(0, ms));
  }

  private send(batch: Item[]): void {
    if (this.timer && this.queue.length === 0) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    this.inFlight++;
    const t0 = performance.now();
    this.embedder
      .embed(batch.map((b) => b.crop))
      .then(
        (out) => batch.forEach((b, i) => b.resolve(out[i])),
        (err: Error) => batch.forEach((b) => b.reject(err)),
      )
      .finally(() => {
        this.options.onBatch?.(batch.length, performance.now() - t0);
        this.inFlight--;
        this.pump();
      });
  }
}
