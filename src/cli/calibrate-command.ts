import { maskUrl } from '../util/redact';
import { Command } from 'commander';
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { calibrate } from '../match/calibrate';
import { setThresholds } from '../match/gallery';
import { trainGallery } from '../match/svm';
import { embedImages } from '../pipeline/images';
import { isImageFileName } from '../eval/dataset';
import { addCommonOptions, configFrom, fraction, openGallery, openModels, type CommonFlags } from './common';

async function imagesUnder(dir: string): Promise<string[]> {
  const st = await stat(dir).catch(() => undefined);
  if (!st?.isDirectory()) throw new Error(`--unknown ${dir} is not a directory; expected images of people who are NOT enrolled (flat or <id>/<image>)`);
  const out: string[] = [];
  for (const name of (await readdir(dir)).sort()) {
    const p = path.join(dir, name);
    const s = await stat(p).catch(() => undefined);
    if (s?.isDirectory()) out.push(...(await imagesUnder(p)));
    else if (isImageFileName(name)) out.push(p);
  }
  return out;
}

export function registerCalibrateCommand(program: Command): void {
  addCommonOptions(
    program
      .command('calibrate')
      .description('Set the open-set thresholds for a target false-positive identification rate from faces of people who are not enrolled; stored with the gallery')
      .requiredOption('--unknown <dir>', 'images of non-enrolled people (flat or <id>/<image>)')
      .option('--target-fpir <rate>', 'target FPIR, e.g. 0.01 (default: matching.targetFpir of the config)', fraction('--target-fpir'))
      .option('--json', 'print the result as JSON'),
  ).action(async (opts: CommonFlags & { unknown: string; targetFpir?: number; json?: boolean }) => {
    const config = configFrom(opts);
    const target = opts.targetFpir ?? config.matching.targetFpir;
    const models = await openModels(config);
    try {
      const { store, gallery } = await openGallery(config, models.embedder);
      const files = await imagesUnder(opts.unknown);
      let last = 0;
      const results = await embedImages(files, {
        detector: models.detector,
        embedder: models.embedder,
        policy: 'largest',
        onProgress: (d, t) => {
          if (d === t || Date.now() - last > 1000) {
            last = Date.now();
            process.stderr.write(`[calibrate] ${d}/${t} unknown images\n`);
          }
        },
      });
      for (const r of results) if (r.error) process.stderr.write(`[calibrate] skipped ${r.error.message}\n`);
      const unknowns = results.flatMap((r) => (r.embedding ? [r.embedding] : []));
      process.stderr.write(`[calibrate] training the gallery model (${gallery.identities.length} identities)\n`);
      const model = trainGallery(gallery);
      const result = calibrate(gallery, model, unknowns, target);
      for (const w of result.warnings) process.stderr.write(`[calibrate] warning: ${w}\n`);
      const next = setThresholds(gallery, result.thresholds);
      await store.save(next);
      if (opts.json) process.stdout.write(`${JSON.stringify({ ...result, galleryVersion: next.version })}\n`);
      else {
        process.stdout.write(
          `thresholds: svm >= ${result.thresholds.svm.toFixed(4)}, distance <= ${result.thresholds.distance.toFixed(4)}\n` +
            `target FPIR ${target}, achieved ${result.achievedFpir.toFixed(4)} on ${unknowns.length} unknown faces (95% upper bound ${result.fpirUpper95.toFixed(4)}), estimated FNIR ${Number.isNaN(result.estimatedFnir) ? 'n/a' : result.estimatedFnir.toFixed(4)}\n` +
            `saved with gallery v${next.version} in ${maskUrl(config.store)}\n`,
        );
      }
    } finally {
      await models.close();
    }
  });
}
