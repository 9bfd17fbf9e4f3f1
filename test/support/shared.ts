import { existsSync } from 'node:fs';
import path from 'node:path';
import { projectRoot } from '../../src/util/paths';

/** The ../shared folder (models and face data for tests), or undefined when absent. */
export function sharedDir(): string | undefined {
  const dir = process.env.FACESTREAM_SHARED_DIR ?? path.resolve(projectRoot(), '..', 'shared');
  return existsSync(path.join(dir, 'README.md')) ? dir : undefined;
}

/** For `test(name, { skip: skipWithoutShared('…') }, …)`: a reason string when ../shared is absent. */
export function skipWithoutShared(what: string): string | false {
  return sharedDir() ? false : `../shared is absent (set FACESTREAM_SHARED_DIR): cannot ${what}`;
}
