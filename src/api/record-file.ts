/**
 * A small JSON file of records (`{"<field>": [...]}`), private (0600 in a 0700 directory), replaced atomically
 * (writeFileDurably). Reads are cached and re-read when the file changes on disk, so a record written by another
 * process (the CLI) is seen at once; read-modify-writes are serialised within the process.
 */
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { writeFileDurably } from '../util/durable-file';

export interface RecordFile<T> {
  readonly file: string;
  read(): Promise<T[]>;
  /** `fn` returns the new records (undefined: no write) and a result. */
  change<R>(fn: (records: T[]) => { records?: T[]; result: R }): Promise<R>;
}

export function recordFile<T>(file: string, field: string, parse: (raw: unknown) => T): RecordFile<T> {
  let cache: { stamp: string; records: T[] } | undefined;
  let writes: Promise<unknown> = Promise.resolve();

  const read = async (): Promise<T[]> => {
    let st;
    try {
      st = await fs.stat(file);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw e;
    }
    const stamp = `${st.mtimeMs}:${st.size}:${st.ino}`;
    if (cache?.stamp === stamp) return cache.records;
    let raw: unknown;
    try {
      raw = JSON.parse(await fs.readFile(file, 'utf8'));
    } catch (e) {
      throw new Error(`${file} is not valid JSON (${(e as Error).message})`);
    }
    const list = (raw as Record<string, unknown> | null)?.[field];
    if (!Array.isArray(list)) throw new Error(`${file}: expected {"${field}": [...]}`);
    const records = list.map(parse);
    cache = { stamp, records };
    return records;
  };

  const write = async (records: T[]) => {
    await fs.mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
    const tmp = `${file}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
    await writeFileDurably(file, tmp, `${JSON.stringify({ [field]: records }, null, 1)}\n`, 0o600);
    cache = undefined;
  };

  return {
    file,
    read,
    change<R>(fn: (records: T[]) => { records?: T[]; result: R }): Promise<R> {
      const run = writes.then(async () => {
        const { records, result } = fn([...(await read())]);
        if (records) await write(records);
        return result;
      });
      writes = run.catch(() => undefined);
      return run;
    },
  };
}
