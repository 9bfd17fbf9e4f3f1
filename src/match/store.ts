/**
 * Local gallery store for embedded mode (`--store DIR`).
 *
 * One file, DIR/gallery.fsg, so a save is atomic with a single rename:
 *   bytes 0..7   magic "FSGALLRY"
 *   u32 LE       format version (1)
 *   u32 LE       header length J
 *   J bytes      UTF-8 JSON header (metadata; embeddings referenced by row)
 *   0..3 bytes   zero padding to a multiple of 4
 *   rows x dim   float32 LE embeddings (every identity's positives then negatives, in order)
 *   32 bytes     SHA-256 of everything before it
 * Float32 binary is 4 bytes a value against ~5.3 for base64-in-JSON and ~10 for JSON numbers, and
 * round-trips exactly. Saves write DIR/.gallery.fsg.<pid>.<random>.tmp (mode 0600), fsync it,
 * rename it over gallery.fsg and fsync DIR. The directory is kept 0700 and the file 0600:
 * embeddings are biometric data. Loads check magic, version, lengths, checksum and schema and say
 * which was wrong.
 */
import { randomBytes, createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { endianness } from 'node:os';
import path from 'node:path';
import { writeFileDurably } from '../util/durable-file';
import { z } from 'zod';
import type { Gallery } from './gallery';

export const STORE_FILE = 'gallery.fsg';
export const STORE_FORMAT_VERSION = 1;
const MAGIC = Buffer.from('FSGALLRY', 'ascii');
const HASH_LEN = 32;
const FIXED = MAGIC.length + 8;
const LITTLE_ENDIAN = endianness() === 'LE';

export interface GalleryStore {
  readonly dir: string;
  readonly file: string;
  /** The stored gallery, or undefined when none was saved yet. */
  load(): Promise<Gallery | undefined>;
  /** Replaces the stored gallery atomically. */
  save(gallery: Gallery): Promise<void>;
}

const RowRef = z.tuple([z.number().int().nonnegative(), z.number().int().nonnegative()]); // [first row, count]

/** Stored open-set thresholds (shared by the local and the Redis store). */
export const ThresholdsSchema = z.strictObject({
  svm: z.number(),
  distance: z.number().nonnegative(),
  targetFpir: z.number().optional(),
  achievedFpir: z.number().optional(),
  estimatedFnir: z.number().optional(),
  calibratedAt: z.string().optional(),
  calibrationSize: z.number().int().optional(),
});

const HeaderSchema = z.strictObject({
  rows: z.number().int().nonnegative(),
  gallery: z.strictObject({
    version: z.number().int().nonnegative(),
    embedder: z.string().min(1),
    dim: z.number().int().positive(),
    metric: z.enum(['cosine', 'euclidean']),
    thresholds: ThresholdsSchema,
    watchlists: z.array(z.strictObject({ name: z.string().min(1), identities: z.array(z.string()), active: z.boolean() })),
    identities: z.array(
      z.strictObject({
        id: z.string().min(1),
        name: z.string(),
        createdAt: z.string(),
        embeddings: RowRef,
        negatives: RowRef,
      }),
    ),
  }),
});
type Header = z.infer<typeof HeaderSchema>;

/** Serialises a gallery to the store's file format. */
export function encodeGallery(gallery: Gallery): Buffer {
  const dim = gallery.dim;
  let rows = 0;
  const identities: Header['gallery']['identities'] = [];
  for (const i of gallery.identities) {
    const e: [number, number] = [rows, i.embeddings.length];
    rows += i.embeddings.length;
    const n: [number, number] = [rows, i.negatives.length];
    rows += i.negatives.length;
    identities.push({ id: i.id, name: i.name, createdAt: i.createdAt, embeddings: e, negatives: n });
  }
  const t = gallery.thresholds;
  if (!Number.isFinite(t.svm) || !Number.isFinite(t.distance)) {
    throw new RangeError(`cannot store non-finite thresholds (svm ${t.svm}, distance ${t.distance})`);
  }
  const thresholds: Header['gallery']['thresholds'] = { svm: t.svm, distance: t.distance };
  for (const k of ['targetFpir', 'achievedFpir', 'estimatedFnir', 'calibratedAt', 'calibrationSize'] as const) {
    const v = t[k];
    // JSON has no NaN/Infinity: a non-finite optional figure is left out rather than corrupting the file.
    if (v !== undefined && (typeof v !== 'number' || Number.isFinite(v))) (thresholds as Record<string, unknown>)[k] = v;
  }
  const header: Header = {
    rows,
    gallery: {
      version: gallery.version,
      embedder: gallery.embedder,
      dim,
      metric: gallery.metric,
      thresholds,
      watchlists: gallery.watchlists.map((w) => ({ name: w.name, identities: [...w.identities], active: w.active })),
      identities,
    },
  };
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const pad = (4 - ((FIXED + json.length) % 4)) % 4;
  const floatsAt = FIXED + json.length + pad;
  const total = floatsAt + rows * dim * 4 + HASH_LEN;
  const buf = Buffer.alloc(total);
  MAGIC.copy(buf, 0);
  buf.writeUInt32LE(STORE_FORMAT_VERSION, MAGIC.length);
  buf.writeUInt32LE(json.length, MAGIC.length + 4);
  json.copy(buf, FIXED);
  let at = floatsAt;
  const put = (e: Float32Array) => {
    if (e.length !== dim) throw new RangeError(`cannot store an embedding of ${e.length} values in a ${dim}-d gallery`);
    if (LITTLE_ENDIAN) {
      Buffer.from(e.buffer, e.byteOffset, e.byteLength).copy(buf, at);
      at += e.byteLength;
    } else for (let j = 0; j < dim; j++, at += 4) buf.writeFloatLE(e[j], at);
  };
  for (const i of gallery.identities) {
    i.embeddings.forEach(put);
    i.negatives.forEach(put);
  }
  createHash('sha256').update(buf.subarray(0, total - HASH_LEN)).digest().copy(buf, total - HASH_LEN);
  return buf;
}

/** Parses the store's file format; `source` names the file in errors. */
export function decodeGallery(buf: Buffer, source: string): Gallery {
  const bad = (what: string) => new Error(`gallery store ${source} is corrupt or not a gallery file: ${what}`);
  if (buf.length < FIXED + HASH_LEN) throw bad(`${buf.length} bytes is too short for the header`);
  if (!buf.subarray(0, MAGIC.length).equals(MAGIC)) throw bad('bad magic (expected "FSGALLRY")');
  const version = buf.readUInt32LE(MAGIC.length);
  if (version !== STORE_FORMAT_VERSION) {
    throw new Error(`gallery store ${source} has format version ${version}; this facestream reads version ${STORE_FORMAT_VERSION}`);
  }
  const digest = createHash('sha256').update(buf.subarray(0, buf.length - HASH_LEN)).digest();
  if (!digest.equals(buf.subarray(buf.length - HASH_LEN))) throw bad('checksum mismatch (truncated or modified)');
  const jsonLen = buf.readUInt32LE(MAGIC.length + 4);
  if (FIXED + jsonLen > buf.length - HASH_LEN) throw bad(`header length ${jsonLen} runs past the end of the file`);
  let raw: unknown;
  try {
    raw = JSON.parse(buf.subarray(FIXED, FIXED + jsonLen).toString('utf8'));
  } catch (e) {
    throw bad(`header is not JSON (${(e as Error).message})`);
  }
  const parsed = HeaderSchema.safeParse(raw);
  if (!parsed.success) {
    throw bad(`header: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`);
  }
  const h = parsed.data;
  const dim = h.gallery.dim;
  const floatsAt = FIXED + jsonLen + ((4 - ((FIXED + jsonLen) % 4)) % 4);
  const expected = floatsAt + h.rows * dim * 4 + HASH_LEN;
  if (buf.length !== expected) throw bad(`${buf.length} bytes, ${expected} expected for ${h.rows} embeddings of ${dim} values`);
  const floats = new Float32Array(h.rows * dim);
  if (LITTLE_ENDIAN) Buffer.from(floats.buffer).set(buf.subarray(floatsAt, floatsAt + floats.byteLength));
  else for (let i = 0, at = floatsAt; i < floats.length; i++, at += 4) floats[i] = buf.readFloatLE(at);
  const rowsOf = ([first, count]: [number, number], what: string): Float32Array[] => {
    if (first + count > h.rows) throw bad(`${what} refers to rows ${first}..${first + count - 1} of ${h.rows}`);
    const out: Float32Array[] = [];
    for (let r = first; r < first + count; r++) out.push(floats.slice(r * dim, (r + 1) * dim));
    return out;
  };
  const ids = new Set<string>();
  const identities = h.gallery.identities.map((i) => {
    if (ids.has(i.id)) throw bad(`identity "${i.id}" appears twice`);
    ids.add(i.id);
    return {
      id: i.id,
      name: i.name,
      createdAt: i.createdAt,
      embeddings: rowsOf(i.embeddings, `identity "${i.id}" embeddings`),
      negatives: rowsOf(i.negatives, `identity "${i.id}" negatives`),
    };
  });
  for (const w of h.gallery.watchlists) {
    for (const id of w.identities) if (!ids.has(id)) throw bad(`watchlist "${w.name}" names unknown identity "${id}"`);
  }
  return { ...h.gallery, identities };
}

async function ensurePrivateDir(dir: string): Promise<void> {
  await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  const st = await fs.stat(dir);
  if (!st.isDirectory()) throw new Error(`gallery store ${dir} is not a directory`);
  if ((st.mode & 0o777) !== 0o700) {
    if (typeof process.getuid === 'function' && st.uid !== process.getuid()) {
      throw new Error(`gallery store directory ${dir} has mode ${(st.mode & 0o777).toString(8)} and belongs to another user; expected 0700 and owned by this user`);
    }
    await fs.chmod(dir, 0o700);
  }
}

/** Opens (creating it 0700 if needed) a store directory and removes temporary files a crash left. */
export async function openStore(dir: string): Promise<GalleryStore> {
  const abs = path.resolve(dir);
  await ensurePrivateDir(abs);
  for (const name of await fs.readdir(abs)) {
    if (name.startsWith(`.${STORE_FILE}.`) && name.endsWith('.tmp')) await fs.rm(path.join(abs, name), { force: true });
  }
  const file = path.join(abs, STORE_FILE);
  // Tighten a file left readable by an older version or a copy.
  try {
    const st = await fs.stat(file);
    if ((st.mode & 0o777) !== 0o600) await fs.chmod(file, 0o600);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }

  const load = async (): Promise<Gallery | undefined> => {
    let buf: Buffer;
    try {
      buf = await fs.readFile(file);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
    return decodeGallery(buf, file);
  };

  const save = async (gallery: Gallery): Promise<void> => {
    const data = encodeGallery(gallery);
    await ensurePrivateDir(abs);
    const tmp = path.join(abs, `.${STORE_FILE}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
    await writeFileDurably(file, tmp, data);
  };

  return { dir: abs, file, load, save };
}
