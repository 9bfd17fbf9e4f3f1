/**
 * bench:distributed (a): the embed service's work per batch — decode FaceCrop records, embed their crops with the
 * project's Embedder (worker thread), build and encode FaceEmbedding records, with the stage stamps the service
 * writes — next to raw onnxruntime InferenceSession.run on the same crops preprocessed beforehand (as in
 * bench/embed.ts: same model, same session options, single calls alternated in one process).
 */
import * as ort from 'onnxruntime-node';
import { Embedder } from '../../src/embed/embedder';
import { rawFeeds } from '../raw-feeds';
import type { EmbedderSessionOptions } from '../../src/embed/session';
import { ModelRegistry } from '../../src/models/registry';
import {
  decodeFaceCrop,
  encodeFaceCrop,
  encodeFaceEmbedding,
  type FaceCrop,
  faceEmbeddingFromCrop,
  Stage,
  stampStage,
} from '../../src/schema';
import { alternate, median, noiseCrops } from './measure';

export interface EmbedRatioOptions {
  model: string;
  modelDir: string;
  batches: number[];
  seconds: number;
  minRounds: number;
  threads?: number;
  log: (line: string) => void;
}

export interface EmbedRatioRow {
  batch: number;
  /** faces/s of the service path (decode + embed + encode), from the median call. */
  serviceFacesPerSec: number;
  rawFacesPerSec: number;
  ratio: number;
  /** Median ms per face spent in decodeFaceCrop + stamping + faceEmbeddingFromCrop + encodeFaceEmbedding. */
  codecMsPerFace: number;
  /** Bytes of one FaceCrop / FaceEmbedding record. */
  cropRecordBytes: number;
  embeddingRecordBytes: number;
  calls: number;
}

export interface EmbedRatioResult {
  model: string;
  provider: string;
  fixedBatch: number | null;
  rows: EmbedRatioRow[];
}

/** A face-region JPEG stand-in of typical size (5-10 KB): the service passes it through. */
function fakeJpeg(seed: number): Uint8Array {
  const [c] = noiseCrops(1, 2000, 1, seed);
  const out = new Uint8Array(6000);
  out.set([0xff, 0xd8, 0xff, 0xe0]);
  out.set(c.data.subarray(0, 5994), 4);
  out.set([0xff, 0xd9], 5998);
  return out;
}

function records(n: number, width: number, height: number, model: string): Buffer[] {
  const crops = noiseCrops(n, width, height, 7);
  const t0 = Date.now();
  return crops.map((crop, i) => {
    const rec: FaceCrop = {
      camera: `cam-${i % 4}`,
      track: { id: `cam-${i % 4}-${i}`, firstSeenMs: t0 - 500 },
      frame: { seq: 1000 + i, tsMs: t0, width: 1280, height: 720 },
      detection: {
        box: { x: 400.5, y: 200.25, width: 120.5, height: 150.75 },
        score: 0.98,
        landmarks: [
          { x: 430.1, y: 260.2 }, { x: 490.3, y: 260.4 }, { x: 460.2, y: 290.9 }, { x: 436.4, y: 320.6 }, { x: 484.8, y: 320.4 },
        ],
      },
      quality: { eyeDistance: 60.2, faceSize: 120.5, blur: 143.4, yaw: -3.7, pitch: 5.1, roll: 0.4, score: 0.81 },
      model,
      faceJpeg: fakeJpeg(i + 1),
      stages: [
        { stage: Stage.ingestDecode, tsMs: t0 },
        { stage: Stage.ingestDetect, tsMs: t0 + 30 },
        { stage: Stage.ingestAlign, tsMs: t0 + 33 },
        { stage: Stage.ingestPublish, tsMs: t0 + 35 },
      ],
      crop,
    };
    return encodeFaceCrop(rec);
  });
}

export async function runEmbedRatio(o: EmbedRatioOptions): Promise<EmbedRatioResult> {
  const resolved = new ModelRegistry({ modelDir: o.modelDir }).embedder(o.model);
  const d = resolved.descriptor;
  const options: EmbedderSessionOptions = { executionProviders: ['cpu'], graphOptimizationLevel: 'all' };
  if (o.threads !== undefined) options.intraOpNumThreads = o.threads;
  const embedder = await Embedder.create(resolved, { ...options, maxBatch: Math.max(...o.batches) });
  const raw = await ort.InferenceSession.create(resolved.path, {
    executionProviders: [embedder.provider],
    graphOptimizationLevel: 'all',
    ...(o.threads !== undefined ? { intraOpNumThreads: o.threads } : {}),
  });
  const fixed = embedder.io.fixedBatch;
  const rows: EmbedRatioRow[] = [];
  try {
    for (const batch of o.batches) {
      const encoded = records(batch, d.input.width, d.input.height, d.name);
      // Raw: the same crops, decoded and preprocessed once beforehand; runs of the model's batch size.
      const crops = encoded.map((b) => decodeFaceCrop(b).crop);
      const feeds = rawFeeds(crops, d, fixed);
      const rawRun = async (): Promise<void> => {
        for (const f of feeds) await raw.run({ [embedder.io.inputName]: f });
      };
      // Service: what the embed service does per batch of consumed records.
      const codecMs: number[] = [];
      let outBytes = 0;
      const serviceRun = async (): Promise<void> => {
        let t = performance.now();
        const received = encoded.map((b) => stampStage(decodeFaceCrop(b), Stage.embedReceive));
        let codec = performance.now() - t;
        const embeddings = await embedder.embed(received.map((r) => r.crop));
        t = performance.now();
        const inferred = Date.now();
        const out = received.map((r, i) =>
          encodeFaceEmbedding(stampStage(faceEmbeddingFromCrop(stampStage(r, Stage.embedInfer, inferred), embeddings[i]), Stage.embedPublish)),
        );
        codec += performance.now() - t;
        codecMs.push(codec / batch);
        outBytes = out[0].byteLength;
      };
      const times = await alternate(serviceRun, rawRun, { seconds: o.seconds, minRounds: o.minRounds, warmup: 2 });
      const s = (batch * 1000) / median(times.a);
      const w = (batch * 1000) / median(times.b);
      rows.push({
        batch,
        serviceFacesPerSec: s,
        rawFacesPerSec: w,
        ratio: s / w,
        codecMsPerFace: median(codecMs),
        cropRecordBytes: encoded[0].byteLength,
        embeddingRecordBytes: outBytes,
        calls: times.a.length,
      });
      o.log(`  batch ${batch}: service ${s.toFixed(1)} faces/s, raw ${w.toFixed(1)} faces/s, ratio ${(s / w).toFixed(3)} (${times.a.length} calls each)`);
    }
  } finally {
    await embedder.close();
    await raw.release();
  }
  return { model: d.name, provider: embedder.provider, fixedBatch: fixed, rows };
}
