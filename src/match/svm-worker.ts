/**
 * Worker thread that trains SVM models for ModelHolder (trainer.ts), so training a large gallery
 * never blocks the event loop that matches, ingests and sends alerts. One job at a time.
 */
import { parentPort, threadId } from 'node:worker_threads';
import { type SvmOptions, type TrainingSet, trainSvm } from './svm';

export interface TrainRequest {
  job: number;
  set: TrainingSet;
  options: SvmOptions;
}

export type TrainReply =
  | { job: number; ok: true; model: ReturnType<typeof trainSvm> }
  | { job: number; ok: false; name: string; message: string };

if (!parentPort) throw new Error('src/match/svm-worker.ts must run as a worker thread (ModelHolder starts it)');
const port = parentPort;

port.on('message', (msg: TrainRequest) => {
  let reply: TrainReply;
  const transfer: ArrayBuffer[] = [];
  try {
    const model = trainSvm(msg.set, msg.options, threadId);
    reply = { job: msg.job, ok: true, model };
    transfer.push(model.weights.buffer as ArrayBuffer, model.bias.buffer as ArrayBuffer);
  } catch (err) {
    const e = err instanceof Error ? err : new Error(String(err));
    reply = { job: msg.job, ok: false, name: e.name, message: e.message };
  }
  port.postMessage(reply, transfer);
});
