import { Command, InvalidArgumentError } from 'commander';
import { runEval } from '../eval/run';
import { formatEvalReport } from '../eval/report';

function positiveInt(value: string, name: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`${name} must be a positive integer, got "${value}"`);
  return n;
}

export function registerEvalCommand(program: Command): void {
  program
    .command('eval')
    .description('Evaluate detection + alignment + embedding on a labelled folder and/or LFW pairs')
    .option('--gallery <dir>', 'enrolment images: <dir>/<id>/<image>')
    .option('--probes <dir>', 'probe images of enrolled identities: <dir>/<id>/<image>')
    .option('--unknown <dir>', 'probe images of people NOT enrolled (open set): <dir>/<id>/<image>')
    .option('--pairs <file>', 'LFW-format pairs.txt for 10-fold verification')
    .option('--images <dir>', 'image root for --pairs (<dir>/<name>/<name>_NNNN.jpg)')
    .option('--model-dir <dir>', 'extra directory with model files and *.model.json descriptors')
    .option('--detector <name>', 'detector model name (default mtcnn)')
    .option('--embedder <name>', 'embedder model name (default faceapi-resnet128)')
    .option('--max-width <px>', 'detection analysis width', (v) => positiveInt(v, '--max-width'))
    .option('--threads <n>', 'onnxruntime intra-op threads', (v) => positiveInt(v, '--threads'))
    .option('--json', 'print one JSON object on stdout (progress stays on stderr)')
    .action(async (opts) => {
      const report = await runEval({
        gallery: opts.gallery,
        probes: opts.probes,
        unknown: opts.unknown,
        pairs: opts.pairs,
        images: opts.images,
        modelDir: opts.modelDir,
        detector: opts.detector,
        embedder: opts.embedder,
        maxWidth: opts.maxWidth,
        embedderOptions: opts.threads ? { intraOpNumThreads: opts.threads } : undefined,
        progress: (line) => process.stderr.write(`[eval] ${line}\n`),
      });
      if (opts.json) process.stdout.write(`${JSON.stringify(report)}\n`);
      else process.stdout.write(`${formatEvalReport(report)}\n`);
    });
}
