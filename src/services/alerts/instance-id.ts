/**
 * The alerts instance id that owns Redis claims (src/alerts/dedup.ts): stored in the spool directory, so a process
 * restarted on the same spool (the same alerts, durably held) is the same owner and still sends what it claimed
 * before the restart. Two processes cannot share a spool directory (the spools lock it), so the id names one
 * spool, i.e. one durable holder of alerts.
 *
 * Created once, atomically: written to a temporary file, fsynced, then hard-linked to `instance-id` (link fails if
 * the file exists, so two processes starting on a fresh directory agree on the first one's id).
 */
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { fsyncDir } from '../../util/durable-file';

export const INSTANCE_ID_FILE = 'instance-id';
const VALID = /^[A-Za-z0-9._-]{1,200}$/;

/** Reads `<spoolDir>/instance-id`, creating it from `fresh` (sanitised to [A-Za-z0-9._-]) when absent. */
export async function spoolInstanceId(spoolDir: string, fresh: string): Promise<string> {
  const dir = path.resolve(spoolDir);
  const file = path.join(dir, INSTANCE_ID_FILE);
  await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  const existing = await readId(file);
  if (existing !== undefined) return existing;

  const id = (fresh.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 200) || `alerts-${randomBytes(6).toString('hex')}`);
  const tmp = path.join(dir, `.tmp-${INSTANCE_ID_FILE}-${process.pid}-${randomBytes(4).toString('hex')}`);
  const fh = await fs.open(tmp, 'wx', 0o600);
  try {
    await fh.writeFile(`${id}\n`);
    await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    await fs.link(tmp, file);
    await fsyncDir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  } finally {
    await fs.rm(tmp, { force: true });
  }
  const stored = await readId(file);
  if (stored === undefined) throw new Error(`${file} vanished while it was being created`);
  return stored;
}

async function readId(file: string): Promise<string | undefined> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  const id = text.trim();
  if (!VALID.test(id)) {
    throw new Error(`${file} does not hold an alerts instance id (expected one line of [A-Za-z0-9._-], at most 200): fix or delete it`);
  }
  return id;
}
