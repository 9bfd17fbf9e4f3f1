/**
 * Batches face crops from every camera into embedder calls: a batch goes when it holds `maxBatch` crops or its
 * oldest crop has waited `maxWaitMs`. One batch is in flight at a time (the embedder has one worker); crops that
 * arrive meanwhile form the next batch, so a burst costs one batch, not one call per face.
 */
import type { Crop, Embedder } from '../embed/embedder';

interface Item {
  crop: Crop;
  resolve: (e: Float32Array) => void;
  reject: (err: Error) => void;
}

export interface EmbedBatcherOptions {
  maxBatch?: number;
  maxWaitMs?: number;
  /** Called with each batch's size and duration (metrics). */
  onBatch?: (size: number, ms: number) => void;
}

export class EmbedBatcher {
  private queue: Item[] = [];
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private readonly maxBatch: number;
  private readonly maxWaitMs: number;

  constructor(private readonly embedder: Embedder, private readonly options: EmbedBatcherOptions = {}) {
    this.maxBatch = options.maxBatch ?? 32;
    this.maxWaitMs = options.maxWaitMs ?? 10;
  }

  embed(crop: Crop): Promise<Float32Array> {
    return new Promise((resolve, reject) => {
      this.queue.push({ crop, resolve, reject });
      this.schedule();
    });
  }

  get pending(): number {
    return this.queue.length;
  }

  private schedule(): void {
    if (this.running) return;
    if (this.queue.length >= this.maxBatch) {
      void this.run();
    } else if (!this.timer) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        void this.run();
      }, this.maxWaitMs);
    }
  }

  private async run(): Promise<void> {
    if (this.running || this.queue.length === 0) return;
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    this.running = true;
    const batch = this.queue.splice(0, this.maxBatch);
    const t0 = performance.now();
    try {
      const out = await this.embedder.embed(batch.map((b) => b.crop));
      batch.forEach((b, i) => b.resolve(out[i]));
    } catch (err) {
      for (const b of batch) b.reject(err as Error);
    } finally {
      this.options.onBatch?.(batch.length, performance.now() - t0);
      this.running = false;
      if (this.queue.length > 0) this.schedule();
    }
  }
}
