/**
 * Crash-safe file replacement for data that must not be lost or half-written (the gallery store, the alert
 * spool): a private temp file (0600, exclusive create) → write → fsync → rename over the target → fsync the
 * directory. On failure the temp file is removed and the old content stays.
 */
import { constants as fsc, promises as fs } from 'node:fs';
import path from 'node:path';

export async function fsyncDir(dir: string): Promise<void> {
  const fh = await fs.open(dir, fsc.O_RDONLY);
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Writes `data` to `target` durably, through `tmp` (a path in the same directory). */
export async function writeFileDurably(target: string, tmp: string, data: string | Uint8Array, mode = 0o600): Promise<void> {
  const fh = await fs.open(tmp, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL, mode);
  try {
    await fh.chmod(mode);
    await fh.writeFile(data);
    await fh.sync();
  } catch (err) {
    await fh.close().catch(() => undefined);
    await fs.rm(tmp, { force: true });
    throw err;
  }
  await fh.close();
  try {
    await fs.rename(tmp, target);
  } catch (err) {
    await fs.rm(tmp, { force: true });
    throw err;
  }
  await fsyncDir(path.dirname(target));
}
