/**
 * The detector networks' worker thread (see OrtWorker in net-runner.ts): onnxruntime-node 1.30 runs a session
 * synchronously on the calling thread, so on the main thread a detector would hold the event loop for its whole
 * network time (YuNet ~12 ms, MTCNN ~80 ms a 640x360 frame). Here it holds only this thread. Requests are handled
 * one at a time, in arrival order. Tensors come and go through shared slots (net-worker-protocol.ts); the input
 * copy and, for input shapes seen before, the output tensors are reused, so a steady run allocates nothing large.
 */
import { parentPort } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';
import type { FromNetWorker, ToNetWorker, WireTensor } from './net-worker-protocol';
import { openDetectorSession } from './ort-session';

if (!parentPort) throw new Error('src/detect/net-worker.ts must run as a worker thread (OrtWorker starts it)');
const port = parentPort;

/** Output tensors kept per session, by input shape (MTCNN's P-Net sees one shape per pyramid level). */
const OUTPUT_CACHE_MAX = 16;

interface Session {
  file: string;
  session: Promise<ort.InferenceSession>;
  /** onnxruntime does not accept shared memory: the input is copied here first. */
  input: Float32Array;
  /** Input dims key -> output tensors of that run, reused as pre-allocated outputs. */
  outputs: Map<string, Record<string, ort.Tensor>>;
}

const sessions = new Map<number, Session>();
const slots = new Map<number, SharedArrayBuffer>();
let queue: Promise<void> = Promise.resolve();

function send(msg: FromNetWorker): void {
  port.postMessage(msg);
}

function slot(n: number): SharedArrayBuffer {
  const s = slots.get(n);
  if (!s) throw new Error(`detector worker: no shared slot ${n}`);
  return s;
}

async function run(msg: Extract<ToNetWorker, { type: 'run' }>): Promise<void> {
  const s = sessions.get(msg.session);
  if (!s) throw new Error(`no network session ${msg.session} in the detector worker`);
  const session = await s.session;
  if (s.input.length < msg.length) s.input = new Float32Array(msg.length);
  const data = s.input.subarray(0, msg.length);
  data.set(new Float32Array(slot(msg.input), 0, msg.length));
  const key = msg.dims.join('x');
  const cached = s.outputs.get(key);
  const feeds = { [session.inputNames[0]]: new ort.Tensor('float32', data, msg.dims) };
  const result = cached ? await session.run(feeds, cached) : await session.run(feeds, msg.outputs);
  const tensors = msg.outputs.map((name) => {
    const t = cached?.[name] ?? result[name];
    if (!t || t.type !== 'float32') throw new Error(`${s.file}: output "${name}" missing or not float32`);
    return t;
  });
  if (!cached) {
    if (s.outputs.size >= OUTPUT_CACHE_MAX) s.outputs.delete(s.outputs.keys().next().value as string);
    s.outputs.set(key, Object.fromEntries(msg.outputs.map((name, k) => [name, tensors[k]])));
  }
  const total = tensors.reduce((n, t) => n + t.data.length, 0);
  let out = slot(msg.out);
  let grown: SharedArrayBuffer | undefined;
  if (total * 4 > out.byteLength) {
    grown = new SharedArrayBuffer(2 ** Math.ceil(Math.log2(total * 4)));
    slots.set(msg.out, grown);
    out = grown;
  }
  const view = new Float32Array(out);
  let at = 0;
  const outputs: WireTensor[] = tensors.map((t) => {
    view.set(t.data as Float32Array, at);
    const w = { offset: at, length: t.data.length, dims: [...t.dims] };
    at += t.data.length;
    return w;
  });
  send({ type: 'result', id: msg.id, outputs, ...(grown ? { grown } : {}) });
}

async function handle(msg: ToNetWorker): Promise<void> {
  switch (msg.type) {
    case 'open': {
      const session = openDetectorSession(msg.file, msg.symbolicDims);
      sessions.set(msg.session, { file: msg.file, session, input: new Float32Array(0), outputs: new Map() });
      session.then(
        () => send({ type: 'opened', session: msg.session }),
        (err: Error) => send({ type: 'open-error', session: msg.session, message: err.message }),
      );
      return;
    }
    case 'slot':
      slots.set(msg.slot, msg.sab);
      return;
    case 'release': {
      const s = sessions.get(msg.session);
      sessions.delete(msg.session);
      await s?.session.then((x) => x.release()).catch(() => undefined);
      return;
    }
    case 'close': {
      // Sessions are released here, on their own thread, before the thread ends: terminating a thread while
      // onnxruntime is inside a call (a run or a release) aborts the whole process in native code.
      const all = [...sessions.values()];
      sessions.clear();
      await Promise.all(all.map((x) => x.session.then((y) => y.release()).catch(() => undefined)));
      port.close(); // nothing else keeps this thread alive: it ends
      return;
    }
    case 'run':
      try {
        await run(msg);
      } catch (err) {
        send({ type: 'error', id: msg.id, message: (err as Error)?.message ?? String(err) });
      }
  }
}

port.on('message', (msg: ToNetWorker) => {
  queue = queue.then(() => handle(msg));
});
