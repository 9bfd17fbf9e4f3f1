/**
 * The baseline's input for the embed benchmarks: the same crops, preprocessed once beforehand, cut into runs of
 * the model's batch size (fixed-batch models: the last run zero-padded), as raw onnxruntime is fed.
 */
import * as ort from 'onnxruntime-node';
import { type Crop, inputDims, itemSize, toTensor } from '../src/embed/preprocess';
import type { EmbedderDescriptor } from '../src/models/descriptor';

export function rawFeeds(crops: readonly Crop[], d: EmbedderDescriptor, fixedBatch: number | null | undefined): ort.Tensor[] {
  const batch = crops.length;
  const tensor = toTensor([...crops], d);
  const step = fixedBatch ?? batch;
  const feeds: ort.Tensor[] = [];
  for (let s = 0; s < batch; s += step) {
    const m = Math.min(step, batch - s);
    let data = tensor.subarray(s * itemSize(d), (s + m) * itemSize(d));
    if (m < step) {
      const padded = new Float32Array(step * itemSize(d));
      padded.set(data);
      data = padded;
    }
    feeds.push(new ort.Tensor('float32', data, inputDims(d, step)));
  }
  return feeds;
}
