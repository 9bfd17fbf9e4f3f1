/**
 * The embed service's model: one Embedder (inference in its worker thread) behind a CropBatcher, so crops of
 * every chunk in flight (several partitions at once) share inferences of up to `maxBatch` crops, a batch going when
 * it is full or its oldest crop has waited `maxWaitMs`.
 *
 * When the embedder's worker dies (out of memory, a crash in the runtime), every later call would fail: the slot
 * replaces it with a fresh embedder in the background and reports the failure as retryable, so the consumer holds
 * the records (uncommitted) until the model is back instead of dead-lettering good crops. Other inference errors
 * are not retried here: the consumer then isolates the record at fault.
 */
import { Embedder, type Crop, type EmbedderOptions } from '../../embed/embedder';
import type { EmbedderDescriptor } from '../../models/descriptor';
import type { ResolvedEmbedder } from '../../models/registry';
import { RetryableError } from '../../transport/consumer';
import type { Logger } from '../../util/log';
import { CropBatcher } from './crop-batcher';

export interface EmbedderSlotOptions {
  resolved: ResolvedEmbedder;
  embedder: EmbedderOptions & { maxBatch: number };
  maxWaitMs: number;
  log: Logger;
  /** Each inference: crops and milliseconds. */
  onBatch?: (size: number, ms: number) => void;
}

/** Messages of Embedder failures that mean its worker is gone (see src/embed/embedder.ts). */
const WORKER_GONE = /embedder worker (failed|exited)|embedder is closed/;

export class EmbedderSlot {
  private embedder: Embedder | undefined;
  private batcher: CropBatcher | undefined;
  private restarting: Promise<void> | undefined;
  private closed = false;
  private state = 'loading the model';
  readonly descriptor: EmbedderDescriptor;

  private constructor(private readonly options: EmbedderSlotOptions) {
    this.descriptor = options.resolved.descriptor;
  }

  /** Loads the model (throws when it cannot be loaded at all: the service cannot start). */
  static async open(options: EmbedderSlotOptions): Promise<EmbedderSlot> {
    const slot = new EmbedderSlot(options);
    await slot.load();
    return slot;
  }

  /** Execution provider in use, or undefined while (re)loading. */
  get provider(): string | undefined {
    return this.embedder?.provider;
  }

  /** For readiness: loaded and usable, or why not. */
  health(): { ok: boolean; detail: string } {
    if (this.batcher && this.embedder) return { ok: true, detail: `${this.descriptor.name} on ${this.embedder.provider}` };
    return { ok: false, detail: this.state };
  }

  /** Embeds one crop, batched with the others in flight. Throws RetryableError while the model is (re)loading. */
  async embed(crop: Crop): Promise<Float32Array> {
    const batcher = this.batcher;
    if (!batcher) throw new RetryableError(`the embedder is not loaded (${this.state})`);
    try {
      return await batcher.embed(crop);
    } catch (err) {
      const message = (err as Error).message ?? String(err);
      if (!WORKER_GONE.test(message) || this.closed) throw err;
      this.restart(message);
      throw new RetryableError(`the embedder failed (${message}); it is being reloaded`, { cause: err });
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.restarting?.catch(() => undefined);
    const e = this.embedder;
    this.embedder = undefined;
    this.batcher = undefined;
    await e?.close();
  }

  private async load(): Promise<void> {
    const { resolved, embedder: opts, maxWaitMs, onBatch } = this.options;
    const embedder = await Embedder.create(resolved, opts);
    if (this.closed) {
      await embedder.close();
      return;
    }
    this.embedder = embedder;
    this.batcher = new CropBatcher(embedder, { maxBatch: opts.maxBatch, maxWaitMs, onBatch });
    this.state = 'ready';
  }

  private restart(reason: string): void {
    if (this.restarting || this.closed) return;
    const old = this.embedder;
    this.embedder = undefined;
    this.batcher = undefined;
    this.state = `reloading the model after a failure (${reason})`;
    this.options.log.error({ err: reason }, 'embedder failed; reloading the model');
    this.restarting = (async () => {
      await old?.close().catch(() => undefined);
      for (let wait = 1000; !this.closed; wait = Math.min(wait * 2, 30_000)) {
        try {
          await this.load();
          this.options.log.info({ embedder: this.descriptor.name }, 'embedder reloaded');
          return;
        } catch (err) {
          this.state = `reloading the model failed (${(err as Error).message}); retrying`;
          this.options.log.error({ err: (err as Error).message }, 'embedder reload failed');
          await new Promise((r) => setTimeout(r, wait).unref());
        }
      }
    })().finally(() => (this.restarting = undefined));
  }
}
