/**
 * One detector network behind one interface, run by the runtime its descriptor names:
 *
 * - "onnxruntime" (the shipped descriptors): onnxruntime-node on the CPU, one intra-op thread (ort-session.ts),
 *   by default in a worker thread of the detector's own (OrtWorker below) so that the event loop is not held for
 *   the network time; or on the calling thread.
 * - "opencv": OpenCV dnn (readNetFromONNX), run on libuv's thread pool with forwardAsync.
 *
 * Inputs and outputs are plain float32 arrays with their shapes, so the detectors' pre- and post-processing is the
 * same for every runtime. Runs never take over the caller's input buffer.
 */
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import type * as ort from 'onnxruntime-node';
import type * as CV from '@u4/opencv4nodejs';
import { cv } from '../util/cv';
import { floatBlob, readFloats } from './cvmat';
import type { FromNetWorker, ToNetWorker } from './net-worker-protocol';
import type { DimSpec } from './onnx-dims';
import { openDetectorSession, runSession, type Tensor } from './ort-session';

export type { Tensor } from './ort-session';
export type DetectorRuntime = 'opencv' | 'onnxruntime';

export interface NetRunner {
  /** Runs the network on one float32 input; returns the named outputs in the order asked. */
  run(input: Tensor, outputs: readonly string[]): Promise<Tensor[]>;
  /** Resolves once the network is loaded; rejects with the load error. */
  ready(): Promise<void>;
  release(): void;
}

export interface NetRunnerOptions {
  /**
   * Graph input/output dims declared fixed that the network must run with other values (onnxruntime enforces
   * declared dims; OpenCV dnn ignores them). See onnx-dims.ts.
   */
  symbolicDims?: DimSpec;
  /** onnxruntime only: run in this worker thread instead of the calling thread. */
  worker?: OrtWorker;
}

export function createNetRunner(runtime: DetectorRuntime, file: string, options: NetRunnerOptions = {}): NetRunner {
  if (runtime === 'opencv') return new OpenCvRunner(file);
  return options.worker ? options.worker.open(file, options.symbolicDims) : new OrtRunner(file, options.symbolicDims);
}

/** onnxruntime on the calling thread: each run holds the event loop for the network time. */
class OrtRunner implements NetRunner {
  private readonly session: Promise<ort.InferenceSession>;

  constructor(private readonly file: string, symbolicDims?: DimSpec) {
    this.session = openDetectorSession(file, symbolicDims);
    this.session.catch(() => undefined); // surfaced by ready() and run()
  }

  async ready(): Promise<void> {
    await this.session;
  }

  async run(input: Tensor, outputs: readonly string[]): Promise<Tensor[]> {
    return runSession(await this.session, this.file, input, outputs);
  }

  release(): void {
    void this.session.then((s) => s.release()).catch(() => undefined);
  }
}

class OpenCvRunner implements NetRunner {
  private readonly net: CV.Net;

  constructor(file: string) {
    this.net = cv().readNetFromONNX(file);
  }

  async ready(): Promise<void> {}

  async run(input: Tensor, outputs: readonly string[]): Promise<Tensor[]> {
    this.net.setInput(floatBlob(input.dims, input.data));
    const mats = await this.net.forwardAsync([...outputs]);
    return mats.map((m) => ({ data: readFloats(m), dims: m.sizes }));
  }

  release(): void {}
}

interface Pending {
  resolve: (t: Tensor[]) => void;
  reject: (err: Error) => void;
  session: number;
  input: number;
  out: number;
}

interface Slot {
  sab: SharedArrayBuffer;
  free: boolean;
}

/** A closed worker that has not ended by itself after this long is terminated. */
const CLOSE_TIMEOUT_MS = 10_000;

/** Smallest shared slot; slots grow in powers of two. */
const MIN_SLOT = 64 * 1024;

/**
 * Workers not closed yet. A worker thread holding onnxruntime sessions that is still alive when the process exits
 * can abort the process in native code while the thread is torn down (seen as SIGABRT after a program finished
 * its work), so when the event loop empties, any worker its owner forgot to close is ended first: terminating
 * keeps the loop alive until the thread is gone, then the process exits normally.
 */
const liveWorkers = new Set<OrtWorker>();
let exitGuard = false;
function guardExit(worker: OrtWorker): void {
  liveWorkers.add(worker);
  if (exitGuard) return;
  exitGuard = true;
  process.on('beforeExit', () => {
    for (const w of [...liveWorkers]) void w.close();
  });
}

/**
 * A worker thread (net-worker.ts) holding onnxruntime sessions; one per detector, shared by its networks. Runs are
 * queued there in order. Each run's input is copied into a shared slot and its outputs come back in another (see
 * net-worker-protocol.ts for why no ArrayBuffer travels in messages); outputs are copied out on arrival, so both
 * slots are free again at once. The thread keeps the process alive only while a load or a run is pending;
 * close() ends it.
 */
export class OrtWorker {
  private readonly worker: Worker;
  private readonly pendingRuns = new Map<number, Pending>();
  private readonly opening = new Map<number, { resolve: () => void; reject: (err: Error) => void }>();
  private readonly slots: Slot[] = [];
  /** Bytes of the last outputs of each session: the size of the output slot for its next run. */
  private readonly outBytes = new Map<number, number>();
  private nextId = 1;
  private nextSession = 1;
  private failure: Error | undefined;
  private closed = false;
  private terminated: Promise<void> | undefined;
  private exited = false;

  constructor() {
    this.worker = new Worker(path.join(__dirname, 'net-worker.js'));
    this.worker.on('message', (msg: FromNetWorker) => this.onMessage(msg));
    this.worker.on('error', (err) => this.fail(new Error(`detector network worker failed: ${err.message}`)));
    this.worker.on('exit', (code) => {
      this.exited = true;
      this.fail(new Error(this.closed ? 'detector is closed' : `detector network worker exited unexpectedly (code ${code})`));
    });
    this.updateRef();
    guardExit(this);
  }

  open(file: string, symbolicDims?: DimSpec): NetRunner {
    const session = this.nextSession++;
    const loaded = new Promise<void>((resolve, reject) => {
      if (this.failure) return reject(this.failure);
      this.opening.set(session, { resolve, reject });
    });
    loaded.catch(() => undefined); // surfaced by ready() and run()
    this.post({ type: 'open', session, file, symbolicDims });
    this.updateRef();
    return {
      ready: () => loaded,
      run: async (input, outputs) => {
        await loaded;
        return this.run(session, input, outputs);
      },
      release: () => {
        if (!this.closed) this.post({ type: 'release', session });
      },
    };
  }

  /** Ends the thread (its sessions with it); pending requests fail with "detector is closed". */
  close(): Promise<void> {
    if (this.closed) return this.terminated ?? Promise.resolve();
    this.closed = true;
    liveWorkers.delete(this);
    this.fail(new Error('detector is closed'));
    // The thread releases its sessions and ends by itself (see net-worker.ts 'close'); only a thread that does not
    // end in CLOSE_TIMEOUT_MS is terminated. Held alive (ref) until then, and awaited by the caller: a process that
    // exits while the thread is still being torn down can abort in native code.
    if (this.exited) return (this.terminated = Promise.resolve());
    this.worker.ref();
    this.terminated = new Promise<void>((resolve) => {
      const timer = setTimeout(() => void this.worker.terminate().catch(() => undefined), CLOSE_TIMEOUT_MS);
      this.worker.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
    });
    this.post({ type: 'close' });
    return this.terminated;
  }

  private run(session: number, input: Tensor, outputs: readonly string[]): Promise<Tensor[]> {
    if (this.failure) return Promise.reject(this.failure);
    const inSlot = this.take(input.data.byteLength);
    new Float32Array(this.slots[inSlot].sab, 0, input.data.length).set(input.data);
    const outSlot = this.take(this.outBytes.get(session) ?? MIN_SLOT);
    const id = this.nextId++;
    const result = new Promise<Tensor[]>((resolve, reject) =>
      this.pendingRuns.set(id, { resolve, reject, session, input: inSlot, out: outSlot }),
    );
    this.post({ type: 'run', id, session, input: inSlot, length: input.data.length, dims: [...input.dims], outputs: [...outputs], out: outSlot });
    this.updateRef();
    return result;
  }

  /** A free slot of at least `bytes` (the smallest that fits), or a new one (handed to the worker once). */
  private take(bytes: number): number {
    let best = -1;
    this.slots.forEach((s, i) => {
      if (s.free && s.sab.byteLength >= bytes && (best < 0 || s.sab.byteLength < this.slots[best].sab.byteLength)) best = i;
    });
    if (best < 0) {
      best = this.slots.length;
      const sab = new SharedArrayBuffer(Math.max(MIN_SLOT, 2 ** Math.ceil(Math.log2(Math.max(1, bytes)))));
      this.slots.push({ sab, free: true });
      this.post({ type: 'slot', slot: best, sab });
    }
    this.slots[best].free = false;
    return best;
  }

  private post(msg: ToNetWorker): void {
    this.worker.postMessage(msg);
  }

  private onMessage(msg: FromNetWorker): void {
    if (msg.type === 'opened' || msg.type === 'open-error') {
      const o = this.opening.get(msg.session);
      this.opening.delete(msg.session);
      if (msg.type === 'opened') o?.resolve();
      else o?.reject(new Error(msg.message));
    } else {
      const p = this.pendingRuns.get(msg.id);
      this.pendingRuns.delete(msg.id);
      if (p) {
        if (msg.type === 'result') {
          if (msg.grown) this.slots[p.out].sab = msg.grown;
          const all = new Float32Array(this.slots[p.out].sab);
          const tensors = msg.outputs.map((t) => ({ data: all.slice(t.offset, t.offset + t.length), dims: t.dims }));
          this.outBytes.set(p.session, msg.outputs.reduce((n, t) => n + t.length * 4, 0));
          p.resolve(tensors);
        } else p.reject(new Error(msg.message));
        this.slots[p.input].free = true;
        this.slots[p.out].free = true;
      }
    }
    this.updateRef();
  }

  private fail(err: Error): void {
    this.failure ??= err;
    for (const o of this.opening.values()) o.reject(this.failure);
    for (const p of this.pendingRuns.values()) p.reject(this.failure);
    this.opening.clear();
    this.pendingRuns.clear();
    this.updateRef();
  }

  /** Keeps the event loop alive exactly while a reply is awaited. */
  private updateRef(): void {
    if (this.closed || this.opening.size > 0 || this.pendingRuns.size > 0) this.worker.ref();
    else this.worker.unref();
  }
}
