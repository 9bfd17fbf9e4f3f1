/**
 * Background retraining: ModelHolder keeps the live {gallery, model, matcher} snapshot and swaps
 * in a new one, atomically (one reference assignment), when a retrain finishes.
 *
 * - requestRetrain(gallery) after every gallery change. When only watchlists or thresholds
 *   changed (gallery.identities is the same array: gallery operations are immutable) the model is
 *   reused and the snapshot swapped at once; otherwise SVM training runs in a worker thread
 *   (svm-worker.js next to this file, so it works from the compiled dist/).
 * - Bursts coalesce: while a training runs, further requests only replace the pending gallery;
 *   when it ends its result is swapped in and the latest pending gallery (if any) trained next.
 *   At most one training runs and at most one waits, however many requests arrive.
 * - current() always returns a complete, consistent snapshot (the previous one until the swap).
 * - `ready` resolves with the snapshot of the latest requested gallery once it is live (rejects if
 *   that training fails); the 'swapped' event fires with each new snapshot, 'train-error' with an
 *   Error when a training fails (the previous snapshot stays live).
 */
import { EventEmitter } from 'node:events';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { Gallery } from './gallery';
import { type Matcher, buildMatcher } from './matcher';
import type { CandidateMatcher } from './search/candidates';
import { type SvmModel, type SvmOptions, buildTrainingSet, trainSvm } from './svm';
import type { TrainReply, TrainRequest } from './svm-worker';

export interface Snapshot {
  gallery: Gallery;
  model: SvmModel;
  matcher: Matcher;
  /** Request sequence number this snapshot answers (increases with every requestRetrain). */
  seq: number;
  /** Large galleries: candidates from an exact index, the matcher then run on them (snapshot-index.ts). */
  candidates?: CandidateMatcher;
}

export interface ModelHolderOptions {
  svm?: SvmOptions;
  /** Background (unknown) faces added as negatives of every identity. */
  background?: readonly Float32Array[];
  /** Train on the calling thread instead of a worker (small galleries, debugging). Default false. */
  inThread?: boolean;
  /** Worker script; default svm-worker.js next to this file. */
  workerScript?: string;
}

interface Waiter {
  seq: number;
  resolve: (s: Snapshot) => void;
  reject: (e: Error) => void;
}

export class ModelHolder extends EventEmitter {
  private snapshot: Snapshot | undefined;
  private latest: { gallery: Gallery; seq: number } | undefined;
  private seq = 0;
  private running = false;
  private closed = false;
  private waiters: Waiter[] = [];
  private worker: Worker | undefined;
  private inflight: { job: number; resolve: (m: SvmModel) => void; reject: (e: Error) => void } | undefined;
  private jobs = 0;
  private activeSeq = 0;
  private lastFailure: { seq: number; error: Error } | undefined;
  /** Trainings run, model reuses (no training needed) and requests absorbed by coalescing. */
  readonly stats = { trainings: 0, reused: 0, coalesced: 0, failures: 0 };

  constructor(private readonly options: ModelHolderOptions = {}) {
    super();
  }

  /** The live snapshot, or undefined before the first one is ready. */
  current(): Snapshot | undefined {
    return this.snapshot;
  }

  /** True while a training runs or waits. */
  get busy(): boolean {
    return this.running;
  }

  requestRetrain(gallery: Gallery): void {
    if (this.closed) throw new Error('ModelHolder is closed');
    if (this.running && this.latest && this.latest.seq > this.activeSeq) this.stats.coalesced++;
    this.latest = { gallery, seq: ++this.seq };
    if (!this.running) void this.pump();
  }

  /** Resolves with the snapshot of the latest requested gallery once it is live. */
  get ready(): Promise<Snapshot> {
    const target = Math.max(this.seq, 1);
    if (this.snapshot && this.snapshot.seq >= target) return Promise.resolve(this.snapshot);
    if (this.closed) return Promise.reject(new Error('ModelHolder is closed'));
    if (!this.running && this.lastFailure && this.lastFailure.seq >= target) return Promise.reject(this.lastFailure.error);
    return new Promise((resolve, reject) => this.waiters.push({ seq: target, resolve, reject }));
  }

  private async pump(): Promise<void> {
    this.running = true;
    try {
      while (!this.closed && this.latest && (!this.snapshot || this.latest.seq > this.snapshot.seq)) {
        const job = this.latest;
        this.activeSeq = job.seq;
        try {
          const prev = this.snapshot;
          let model: SvmModel;
          if (prev && prev.gallery.identities === job.gallery.identities && prev.gallery.embedder === job.gallery.embedder) {
            model = prev.model;
            this.stats.reused++;
          } else {
            model = await this.train(job.gallery);
            this.stats.trainings++;
          }
          if (this.closed) break;
          const next: Snapshot = { gallery: job.gallery, model, matcher: buildMatcher(job.gallery, model), seq: job.seq };
          this.snapshot = next;
          this.settle(next.seq, (w) => w.resolve(next));
          try {
            this.emit('swapped', next);
          } catch (listenerError) {
            // A throwing listener is its own bug: surface it without corrupting the holder.
            queueMicrotask(() => {
              throw listenerError;
            });
          }
        } catch (err) {
          const e = err instanceof Error ? err : new Error(String(err));
          this.stats.failures++;
          this.lastFailure = { seq: job.seq, error: e };
          this.settle(job.seq, (w) => w.reject(e));
          if (this.listenerCount('train-error') > 0) this.emit('train-error', e);
          // Do not retry the same gallery in a loop: wait for the next request.
          if (this.latest === job) break;
        }
      }
    } finally {
      this.running = false;
    }
  }

  private settle(seq: number, action: (w: Waiter) => void): void {
    const keep: Waiter[] = [];
    for (const w of this.waiters) (w.seq <= seq ? action : (x: Waiter) => keep.push(x))(w);
    this.waiters = keep;
  }

  private train(gallery: Gallery): Promise<SvmModel> {
    const set = buildTrainingSet(gallery, this.options.background);
    if (this.options.inThread) return Promise.resolve(trainSvm(set, this.options.svm));
    const worker = this.startWorker();
    const job = ++this.jobs;
    return new Promise<SvmModel>((resolve, reject) => {
      this.inflight = { job, resolve, reject };
      worker.ref();
      const msg: TrainRequest = { job, set, options: this.options.svm ?? {} };
      worker.postMessage(msg, [set.X.buffer as ArrayBuffer, set.owner.buffer as ArrayBuffer, set.kind.buffer as ArrayBuffer]);
    });
  }

  private startWorker(): Worker {
    if (this.worker) return this.worker;
    const script = this.options.workerScript ?? path.join(__dirname, 'svm-worker.js');
    if (!existsSync(script)) {
      throw new Error(`SVM worker script ${script} not found: run from the compiled dist/ (npm run build) or use inThread`);
    }
    const worker = new Worker(script);
    worker.unref();
    worker.on('message', (reply: TrainReply) => {
      const f = this.inflight;
      if (!f || f.job !== reply.job) return;
      this.inflight = undefined;
      worker.unref();
      if (reply.ok) f.resolve(reply.model);
      else {
        const e = new Error(`SVM training failed: ${reply.message}`);
        e.name = reply.name;
        f.reject(e);
      }
    });
    const fail = (e: Error) => {
      if (this.worker === worker) this.worker = undefined;
      const f = this.inflight;
      this.inflight = undefined;
      f?.reject(e);
    };
    worker.on('error', (e) => fail(new Error(`SVM worker failed: ${e.message}`)));
    worker.on('exit', (code) => fail(new Error(`SVM worker exited (code ${code})`)));
    this.worker = worker;
    return worker;
  }

  /** Stops the worker; pending `ready` promises reject. The current snapshot stays readable. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const e = new Error('ModelHolder is closed');
    for (const w of this.waiters) w.reject(e);
    this.waiters = [];
    const worker = this.worker;
    this.worker = undefined;
    if (worker) await worker.terminate();
  }
}
