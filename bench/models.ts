import { existsSync } from 'node:fs';
import { ModelFileError, ModelRegistry, type ResolvedDetector } from '../src/models/registry';

/**
 * A detector from the default model dir, else from `modelDir` (e.g. ../shared/models); or, when neither holds its
 * files, the reasons as one string so a benchmark can print why it skips that detector.
 */
export function resolveDetector(name: string, modelDir: string | undefined): ResolvedDetector | string {
  const errors: string[] = [];
  for (const dir of [undefined, modelDir && existsSync(modelDir) ? modelDir : undefined]) {
    try {
      return new ModelRegistry(dir ? { modelDir: dir } : {}).detector(name);
    } catch (err) {
      if (!(err instanceof ModelFileError)) throw err;
      errors.push(err.message);
    }
  }
  return errors.join(' | ');
}
