/**
 * `npm run bench:embed`: faces/s of facestream's embed path (Embedder.embed from uint8 crops:
 * packing, preprocessing, inference in the worker thread, normalisation) next to raw
 * onnxruntime (InferenceSession.run on pre-made tensors, on this thread), same model, same
 * session options, same process. Single calls of the two alternate (ours, raw, raw, ours, ...) so
 * that load from other processes on shared cores falls on both; faces/s are from the median call
 * time (and, for reference, the best call). Also reports the worst event-loop stall seen while
 * each path ran: raw onnxruntime blocks the event loop for a whole inference, ours should not.
 *
 *   node dist/bench/embed.js [--model faceapi-resnet128] [--model-dir DIR] [--threads N]
 *                            [--providers cpu] [--batches 1,8,32] [--seconds 10] [--min-pairs 8]
 */
import { Command } from 'commander';
import * as ort from 'onnxruntime-node';
import { availableParallelism } from 'node:os';
import { Embedder } from '../src/embed/embedder';
import type { Crop } from '../src/embed/preprocess';
import { rawFeeds } from './raw-feeds';
import type { EmbedderSessionOptions } from '../src/embed/session';
import { ModelRegistry } from '../src/models/registry';
import { defaultModelDir } from '../src/util/paths';

interface Args {
  model: string;
  modelDir: string;
  threads?: string;
  providers: string;
  batches: string;
  seconds: string;
  minPairs: string;
}

interface Row {
  batch: number;
  oursFacesPerSec: number;
  rawFacesPerSec: number;
  ratio: number;
  oursBestFacesPerSec: number;
  rawBestFacesPerSec: number;
  oursMaxLoopStallMs: number;
  rawMaxLoopStallMs: number;
  calls: number;
}

function randomCrops(n: number, w: number, h: number): Crop[] {
  return Array.from({ length: n }, () => {
    const data = new Uint8Array(w * h * 3);
    for (let i = 0; i < data.length; i++) data[i] = (Math.random() * 256) | 0;
    return { width: w, height: h, data };
  });
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/**
 * Tracks the worst event-loop stall per label: a 2 ms interval measures the gap since its last
 * tick and charges the excess to whichever path was running.
 */
class LoopStallMeter {
  private last = performance.now();
  private readonly timer: NodeJS.Timeout;
  private current: string | undefined;
  /** The label that ran at some time since the last tick (a stall shows at the tick after it). */
  private since: string | undefined;
  readonly worst = new Map<string, number>();

  constructor() {
    this.timer = setInterval(() => {
      const now = performance.now();
      const stall = now - this.last - 2;
      if (this.since !== undefined && stall > (this.worst.get(this.since) ?? 0)) this.worst.set(this.since, stall);
      this.last = now;
      this.since = this.current;
    }, 2);
  }

  begin(label: string): void {
    this.current = label;
    this.since = label;
  }

  end(): void {
    this.current = undefined;
  }

  stop(): void {
    clearInterval(this.timer);
  }
}

async function main(): Promise<void> {
  const args = new Command('bench-embed')
    .description('faces/s of Embedder.embed vs raw onnxruntime InferenceSession.run')
    .option('--model <name>', 'embedder descriptor name', 'faceapi-resnet128')
    .option('--model-dir <dir>', 'model directory searched first (default models: ' + defaultModelDir() + ')', defaultModelDir())
    .option('--threads <n>', 'intraOpNumThreads for both sessions (default: onnxruntime default)')
    .option('--providers <list>', 'execution providers in order, e.g. cuda,cpu', 'cpu')
    .option('--batches <list>', 'batch sizes', '1,8,32')
    .option('--seconds <s>', 'time budget per batch size (both paths)', '10')
    .option('--min-pairs <n>', 'at least this many calls of each path per batch size', '8')
    .parse(process.argv)
    .opts<Args>();

  let resolved;
  try {
    resolved = new ModelRegistry({ modelDir: args.modelDir }).embedder(args.model);
  } catch (err) {
    process.stderr.write(
      `bench:embed: ${(err as Error).message}\n(for a model that is there now: --model mobilefacenet --model-dir /work/shared/models)\n`,
    );
    process.exitCode = 1;
    return;
  }
  const d = resolved.descriptor;
  const options: EmbedderSessionOptions = {
    executionProviders: args.providers.split(',').map((s) => s.trim()).filter(Boolean),
    graphOptimizationLevel: 'all',
  };
  if (args.threads !== undefined) options.intraOpNumThreads = Number(args.threads);
  const batches = args.batches.split(',').map(Number);
  const seconds = Number(args.seconds);
  const minPairs = Math.max(1, Number(args.minPairs));

  const embedder = await Embedder.create(resolved, { ...options, maxBatch: Math.max(...batches) });
  const raw = await ort.InferenceSession.create(resolved.path, {
    executionProviders: [embedder.provider],
    graphOptimizationLevel: 'all',
    ...(options.intraOpNumThreads !== undefined ? { intraOpNumThreads: options.intraOpNumThreads } : {}),
  });
  const fixed = embedder.io.fixedBatch;
  const inputName = embedder.io.inputName;
  process.stdout.write(
    `model ${d.name} (${resolved.path}), input ${d.input.layout} ${d.input.width}x${d.input.height}, ` +
      `output ${d.output.size}, batch dimension ${fixed === null ? 'dynamic' : `fixed at ${fixed}`}\n` +
      `execution provider: ${embedder.provider}; intraOpNumThreads: ${options.intraOpNumThreads ?? 'onnxruntime default'}; ` +
      `flipAugment: ${d.flipAugment}; cpus: ${availableParallelism()}\n`,
  );

  const rows: Row[] = [];
  for (const batch of batches) {
    const crops = randomCrops(batch, d.input.width, d.input.height);
    const feeds = rawFeeds(crops, d, fixed);
    const ours = (): Promise<unknown> => embedder.embed(crops);
    const rawRun = async (): Promise<unknown> => {
      for (const f of feeds) await raw.run({ [inputName]: f });
      return undefined;
    };
    // Warm-up, then alternate single calls (ours, raw, raw, ours, ...) until the time budget is
    // spent, so that load from other processes falls on both; medians of per-call rates.
    for (let i = 0; i < 2; i++) {
      await ours();
      await rawRun();
    }
    const times: Record<'ours' | 'raw', number[]> = { ours: [], raw: [] };
    const meter = new LoopStallMeter();
    const t0 = performance.now();
    for (let i = 0; times.ours.length < minPairs || performance.now() - t0 < seconds * 1000; i++) {
      const order: ('ours' | 'raw')[] = i % 2 === 0 ? ['ours', 'raw'] : ['raw', 'ours'];
      for (const which of order) {
        meter.begin(which);
        const s = performance.now();
        await (which === 'ours' ? ours() : rawRun());
        times[which].push(performance.now() - s);
        meter.end();
        await new Promise((r) => setTimeout(r, 3)); // let the meter tick after a stall
      }
    }
    meter.stop();
    const o = (batch * 1000) / median(times.ours);
    const w = (batch * 1000) / median(times.raw);
    rows.push({
      batch,
      oursFacesPerSec: o,
      rawFacesPerSec: w,
      ratio: o / w,
      oursBestFacesPerSec: (batch * 1000) / Math.min(...times.ours),
      rawBestFacesPerSec: (batch * 1000) / Math.min(...times.raw),
      oursMaxLoopStallMs: meter.worst.get('ours') ?? 0,
      rawMaxLoopStallMs: meter.worst.get('raw') ?? 0,
      calls: times.ours.length,
    });
  }
  await embedder.close();
  await raw.release();

  const pad = (s: string, n: number): string => s.padStart(n);
  const header = [
    pad('batch', 5), pad('ours faces/s', 13), pad('raw faces/s', 12), pad('ours/raw', 9),
    pad('best ours', 10), pad('best raw', 9), pad('stall ours', 11), pad('stall raw', 10), pad('calls', 6),
  ];
  process.stdout.write(`\n${header.join(' ')}\n`);
  for (const r of rows) {
    const cells = [
      pad(String(r.batch), 5),
      pad(r.oursFacesPerSec.toFixed(1), 13),
      pad(r.rawFacesPerSec.toFixed(1), 12),
      pad(r.ratio.toFixed(3), 9),
      pad(r.oursBestFacesPerSec.toFixed(1), 10),
      pad(r.rawBestFacesPerSec.toFixed(1), 9),
      pad(`${r.oursMaxLoopStallMs.toFixed(0)} ms`, 11),
      pad(`${r.rawMaxLoopStallMs.toFixed(0)} ms`, 10),
      pad(String(r.calls), 6),
    ];
    process.stdout.write(`${cells.join(' ')}\n`);
  }
  process.stdout.write(
    '(faces/s from the median call; "best" from the fastest call; "stall": worst event-loop stall while the path ran)\n',
  );
  const at32 = rows.find((r) => r.batch === 32);
  if (at32) {
    process.stdout.write(`target ours/raw >= 0.9 at batch 32: ${at32.ratio >= 0.9 ? 'met' : 'NOT met'} (${at32.ratio.toFixed(3)})\n`);
  }
  const round = (x: number, k: number): number => +x.toFixed(k);
  process.stdout.write(
    `${JSON.stringify({
      bench: 'embed',
      model: d.name,
      modelFile: resolved.path,
      provider: embedder.provider,
      intraOpNumThreads: options.intraOpNumThreads ?? null,
      fixedBatch: fixed,
      cpus: availableParallelism(),
      results: rows.map((r) => ({
        batch: r.batch,
        oursFacesPerSec: round(r.oursFacesPerSec, 2),
        rawFacesPerSec: round(r.rawFacesPerSec, 2),
        ratio: round(r.ratio, 4),
        oursBestFacesPerSec: round(r.oursBestFacesPerSec, 2),
        rawBestFacesPerSec: round(r.rawBestFacesPerSec, 2),
        oursMaxLoopStallMs: round(r.oursMaxLoopStallMs, 1),
        rawMaxLoopStallMs: round(r.rawMaxLoopStallMs, 1),
        calls: r.calls,
      })),
    })}\n`,
  );
}

main().catch((err: Error) => {
  process.stderr.write(`bench:embed: ${err.stack ?? err.message}\n`);
  process.exitCode = 1;
});
