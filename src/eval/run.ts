/**
 * `facestream eval`: detect + align + embed a labelled set and compute identification (rank-1, FNIR at FPIR)
 * and, with an LFW pairs file, 10-fold verification accuracy. Bad files are counted and reported per file.
 */
import { createDetector } from '../detect/detector';
import { Embedder, EmbedderOptions } from '../embed/embedder';
import { ModelRegistry } from '../models/registry';
import { embedImages, ImageResult } from '../pipeline/images';
import { LabelledImage, readLabelledTree, SkippedEntry } from './dataset';
import { evaluateIdentification, LabelledEmbedding, ScoredPair, verificationAccuracy } from './metrics';
import { readPairsFile } from './pairs';
import { buildEvalReport, ErrorRecord, EvalReport } from './report';
import { distance } from '../embed/distance';

export interface EvalOptions {
  gallery?: string;
  probes?: string;
  unknown?: string;
  pairs?: string;
  images?: string;
  modelDir?: string;
  detector?: string;
  embedder?: string;
  /** Detection analysis width (default 640). */
  maxWidth?: number;
  embedderOptions?: EmbedderOptions;
  progress?: (line: string) => void;
}

export const DEFAULT_DETECTOR = 'mtcnn';
export const DEFAULT_EMBEDDER = 'faceapi-resnet128';

export async function runEval(options: EvalOptions): Promise<EvalReport> {
  if (!options.pairs && !(options.gallery && options.probes)) {
    throw new Error('eval needs --gallery DIR and --probes DIR, and/or --pairs FILE with --images DIR');
  }
  if (options.pairs && !options.images) throw new Error('--pairs needs --images DIR (the image root of pairs.txt)');
  if (options.unknown && !(options.gallery && options.probes)) throw new Error('--unknown needs --gallery and --probes');
  const say = options.progress ?? (() => undefined);
  const registry = new ModelRegistry({ modelDir: options.modelDir });
  const detectorName = options.detector ?? DEFAULT_DETECTOR;
  const embedderName = options.embedder ?? DEFAULT_EMBEDDER;
  const detector = createDetector(registry.detector(detectorName), { maxWidth: options.maxWidth });
  const embedder = await Embedder.create(registry.embedder(embedderName), options.embedderOptions);
  try {
    const skipped: SkippedEntry[] = [];
    const read = async (dir: string | undefined, what: string): Promise<LabelledImage[]> => {
      if (!dir) return [];
      const t = await readLabelledTree(dir, what);
      skipped.push(...t.skipped);
      return t.images;
    };
    const gallery = await read(options.gallery, 'gallery');
    const probes = await read(options.probes, 'probes');
    const unknown = await read(options.unknown, 'unknown');
    const pairsFile = options.pairs ? await readPairsFile(options.pairs, options.images!) : undefined;

    const files = new Set<string>();
    for (const l of [...gallery, ...probes, ...unknown]) files.add(l.file);
    for (const p of pairsFile?.pairs ?? []) {
      files.add(p.a.file);
      files.add(p.b.file);
    }
    const list = [...files];
    const t0 = Date.now();
    let lastSaid = 0;
    const results = await embedImages(list, {
      detector,
      embedder,
      policy: 'central',
      onProgress: (done, total) => {
        const now = Date.now();
        if (done === total || now - lastSaid > 1000) {
          lastSaid = now;
          const rate = done / Math.max(1e-3, (now - t0) / 1000);
          say(`${done}/${total} images (${rate.toFixed(1)}/s)`);
        }
      },
    });
    const elapsedSeconds = (Date.now() - t0) / 1000;
    const byFile = new Map<string, ImageResult>(results.map((r) => [r.file, r]));

    const errors: ErrorRecord[] = [];
    let facesFound = 0;
    let facesNotFound = 0;
    for (const r of results) {
      if (r.embedding) facesFound += 1;
      else if (r.error && (r.error.code === 'no-face' || r.error.code === 'several-faces')) {
        facesNotFound += 1;
        errors.push({ file: r.file, code: r.error.code, message: r.error.message });
      } else if (r.error) errors.push({ file: r.file, code: r.error.code, message: r.error.message });
    }
    const embedded = (items: LabelledImage[]): LabelledEmbedding[] =>
      items.flatMap((i) => {
        const e = byFile.get(i.file)?.embedding;
        return e ? [{ label: i.label, embedding: e }] : [];
      });
    const kind = embedder.descriptor.distance;
    const identification =
      gallery.length && probes.length
        ? evaluateIdentification(embedded(gallery), embedded(probes), embedded(unknown), kind)
        : null;
    let verification: { result: ReturnType<typeof verificationAccuracy>; skippedPairs: number } | null = null;
    if (pairsFile) {
      const scored: ScoredPair[] = [];
      let skippedPairs = 0;
      for (const p of pairsFile.pairs) {
        const a = byFile.get(p.a.file)?.embedding;
        const b = byFile.get(p.b.file)?.embedding;
        if (!a || !b) skippedPairs += 1;
        else scored.push({ fold: p.fold, same: p.same, distance: distance(a, b, kind) });
      }
      verification = scored.length ? { result: verificationAccuracy(scored), skippedPairs } : null;
    }
    return buildEvalReport({
      images: list.length,
      facesFound,
      facesNotFound,
      errors,
      counts: { gallery: gallery.length, probes: probes.length, unknown: unknown.length },
      identification,
      verification,
      elapsedSeconds,
      detector: detectorName,
      embedder: embedderName,
      distance: kind,
      skipped,
    });
  } finally {
    await embedder.close();
    await detector.close?.();
  }
}
