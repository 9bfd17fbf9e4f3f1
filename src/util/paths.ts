import { existsSync } from 'node:fs';
import path from 'node:path';

let root: string | undefined;

/** The facestream package root (holds package.json), whether running from src/ or dist/. */
export function projectRoot(): string {
  if (root) return root;
  let dir = __dirname;
  for (;;) {
    if (existsSync(path.join(dir, 'package.json')) && existsSync(path.join(dir, 'models', 'descriptors'))) {
      root = dir;
      return dir;
    }
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`cannot find the facestream package root above ${__dirname}`);
    dir = parent;
  }
}

/** Where set-up writes the default (converted, registry-sourced) models. */
export function defaultModelDir(): string {
  return process.env.FACESTREAM_DEFAULT_MODEL_DIR ?? path.join(projectRoot(), 'models');
}
