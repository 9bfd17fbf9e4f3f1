/**
 * The embedder's worker thread. onnxruntime-node 1.30's InferenceSession.run() only defers the
 * native, synchronous Run to setImmediate, so on the main thread it blocks the event loop for the
 * whole inference (microsoft/onnxruntime#19611, #26968; measured in test/embed). Here it blocks only
 * this thread. Requests are handled one at a time, in arrival order.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { FromWorker, ToWorker, WorkerInit } from './protocol';
import { Crop, itemSize } from './preprocess';
import { BatchRunner } from './runner';
import { createEmbedderSession, EmbedderSession } from './session';

if (!parentPort) throw new Error('src/embed/worker.ts must run as a worker thread (it is started by Embedder.create)');
const port = parentPort;

function send(msg: FromWorker, transfer: ArrayBuffer[] = []): void {
  port.postMessage(msg, transfer);
}

async function main(): Promise<void> {
  const { resolved, options } = workerData as WorkerInit;
  let es: EmbedderSession;
  try {
    es = await createEmbedderSession(resolved, options, { announce: false });
  } catch (err) {
    const e = err as Error;
    send({ type: 'init-error', name: e.name, message: e.message });
    return;
  }
  const d = resolved.descriptor;
  const runner = new BatchRunner(es.session, d, es.io);
  const item = itemSize(d);
  let queue: Promise<void> = Promise.resolve();

  const handle = async (msg: ToWorker): Promise<void> => {
    if (msg.type === 'close') {
      await es.session.release();
      send({ type: 'closed' });
      port.close();
      return;
    }
    try {
      let out: Float32Array;
      if (msg.type === 'crops') {
        const bytes = new Uint8Array(msg.buf);
        const crops: Crop[] = [];
        for (let i = 0; i < msg.n; i++) {
          crops.push({ width: d.input.width, height: d.input.height, data: bytes.subarray(i * item, (i + 1) * item) });
        }
        out = await runner.runCrops(crops);
      } else {
        out = await runner.runTensor(new Float32Array(msg.buf, msg.byteOffset, msg.n * item), msg.n);
      }
      const transfer = out.buffer === msg.buf ? [msg.buf] : [out.buffer as ArrayBuffer, msg.buf];
      send({ type: 'result', id: msg.id, out: out.buffer as ArrayBuffer, byteOffset: out.byteOffset, n: msg.n, input: msg.buf }, transfer);
    } catch (err) {
      const e = err as Error;
      send({ type: 'error', id: msg.id, name: e.name, message: e.message });
    }
  };

  port.on('message', (msg: ToWorker) => {
    queue = queue.then(() => handle(msg));
  });
  send({ type: 'ready', provider: es.provider, fallbacks: es.fallbacks, io: es.io });
}

void main();
