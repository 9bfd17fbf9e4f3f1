/**
 * Publishing of ingest's face crops without ever holding up frame analysis: `offer()` returns at once. Crops wait in
 * a bounded buffer; one send of at most `maxBatch` records is in flight at a time (the idempotent producer keeps one
 * request in flight anyway, and a single sender keeps each camera's records in order). While Kafka is slow or down the
 * buffer keeps the NEWEST `maxBuffered` crops: the oldest are dropped and counted (a face seen minutes ago is worth
 * less than the one in front of the camera now). A failed send is put back at the head and retried with backoff.
 *
 * Each item is turned into its record (`prepare`: stamp + encode) when it is first sent, so the publish stamp is the
 * moment it was handed to Kafka; an item that cannot be prepared is dropped as invalid.
 */
import type { OutgoingRecord } from '../transport';

export type DropReason = 'buffer_full' | 'invalid';

export interface CropPublisherOptions<T> {
  /** Sends one batch; resolves when acknowledged. */
  send: (records: OutgoingRecord[]) => Promise<unknown>;
  /** Item → record (throws for an invalid item). */
  prepare: (item: T) => OutgoingRecord;
  /** The camera of an item (for drop counts). */
  camera: (item: T) => string;
  /** Items held at most, in flight excluded (newest kept). */
  maxBuffered: number;
  /** Records per send (the in-flight window). Default 32. */
  maxBatch?: number;
  onPublished?: (items: T[]) => void;
  onDropped?: (camera: string, reason: DropReason, count: number, detail?: string) => void;
  onSendError?: (err: unknown, attempt: number) => void;
  /** Backoff after a failed send: initial ms, doubling to 5 s. Default 200. */
  retryBackoffMs?: number;
}

interface Pending<T> {
  item: T;
  record?: OutgoingRecord;
}

export class CropPublisher<T> {
  private readonly queue: Pending<T>[] = [];
  private inFlight: Pending<T>[] = [];
  private pump: Promise<void> | undefined;
  private closed = false;
  private failures = 0;
  private wakeBackoff: (() => void) | undefined;
  private readonly maxBatch: number;

  constructor(private readonly options: CropPublisherOptions<T>) {
    if (!Number.isInteger(options.maxBuffered) || options.maxBuffered < 1) throw new RangeError(`maxBuffered: expected an integer >= 1, got ${options.maxBuffered}`);
    this.maxBatch = options.maxBatch ?? 32;
    if (!Number.isInteger(this.maxBatch) || this.maxBatch < 1) throw new RangeError(`maxBatch: expected an integer >= 1, got ${this.maxBatch}`);
  }

  /** Items waiting (not counting the batch in flight). */
  get buffered(): number {
    return this.queue.length;
  }

  /** Items waiting or in flight. */
  get pending(): number {
    return this.queue.length + this.inFlight.length;
  }

  /** Consecutive failed sends (0 while Kafka accepts). */
  get consecutiveFailures(): number {
    return this.failures;
  }

  /** Queues an item (never blocks); drops the oldest waiting one when the buffer is full. */
  offer(item: T): void {
    if (this.closed) {
      this.options.onDropped?.(this.options.camera(item), 'buffer_full', 1, 'publisher closed');
      return;
    }
    this.queue.push({ item });
    this.trim();
    this.pump ??= this.run().finally(() => (this.pump = undefined));
  }

  /** Waits until everything offered so far is sent, or `timeoutMs` passes; returns whether all was sent. */
  async flush(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (this.pending > 0 && Date.now() < deadline) {
      this.wakeBackoff?.();
      await Promise.race([this.pump ?? Promise.resolve(), new Promise((r) => setTimeout(r, Math.min(100, Math.max(1, deadline - Date.now()))))]);
    }
    return this.pending === 0;
  }

  /** Stops accepting; what is still waiting after `flush` is dropped (counted). */
  async close(timeoutMs = 5000): Promise<boolean> {
    const all = await this.flush(timeoutMs);
    this.closed = true;
    this.wakeBackoff?.();
    const left = [...this.inFlight, ...this.queue.splice(0)];
    this.countDrops(left, 'buffer_full', 'not sent before shutdown');
    return all;
  }

  private trim(): void {
    const over = this.queue.length - this.options.maxBuffered;
    if (over > 0) this.countDrops(this.queue.splice(0, over), 'buffer_full');
  }

  private countDrops(items: Pending<T>[], reason: DropReason, detail?: string): void {
    const byCamera = new Map<string, number>();
    for (const p of items) {
      const c = this.options.camera(p.item);
      byCamera.set(c, (byCamera.get(c) ?? 0) + 1);
    }
    for (const [camera, n] of byCamera) this.options.onDropped?.(camera, reason, n, detail);
  }

  private async run(): Promise<void> {
    let wait = this.options.retryBackoffMs ?? 200;
    while (this.queue.length > 0 && !this.closed) {
      const batch = this.queue.splice(0, this.maxBatch);
      const records: OutgoingRecord[] = [];
      const sent: Pending<T>[] = [];
      for (const p of batch) {
        try {
          p.record ??= this.options.prepare(p.item);
          records.push(p.record);
          sent.push(p);
        } catch (err) {
          this.options.onDropped?.(this.options.camera(p.item), 'invalid', 1, (err as Error).message);
        }
      }
      if (sent.length === 0) continue;
      this.inFlight = sent;
      try {
        await this.options.send(records);
        this.inFlight = [];
        this.failures = 0;
        wait = this.options.retryBackoffMs ?? 200;
        this.options.onPublished?.(sent.map((p) => p.item));
      } catch (err) {
        this.inFlight = [];
        this.failures += 1;
        this.options.onSendError?.(err, this.failures);
        // Back at the head (they are the oldest), then keep only the newest.
        this.queue.unshift(...sent);
        this.trim();
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, wait);
          this.wakeBackoff = () => {
            clearTimeout(t);
            resolve();
          };
        });
        this.wakeBackoff = undefined;
        wait = Math.min(wait * 2, 5000);
      }
    }
  }
}
