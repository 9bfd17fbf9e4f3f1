/**
 * Pure encoding of a gallery and its SVM model into the Redis records of keys.ts, and back.
 *
 * Embeddings and SVM weights are binary Float32 little-endian rows (4 bytes a value, bit-exact), never
 * JSON numbers: they are biometric data, and text would be 2.5x larger and lossy unless printed with 9
 * digits. Everything else is small JSON, validated with zod on the way back so that a damaged or
 * foreign record is refused with a message that says which field is wrong (never its values).
 */
import { endianness } from 'node:os';
import { ThresholdsSchema } from '../store';
import { z } from 'zod';
import { type Gallery, type Identity, type Thresholds, isSlug } from '../gallery';
import { type SvmModel, galleryShape, sameShape } from '../svm';

export const REDIS_FORMAT = 1;
const LITTLE_ENDIAN = endianness() === 'LE';

/** Rows of `dim` floats → one Float32 LE buffer. */
export function rowsToBuffer(rows: readonly Float32Array[], dim: number, what: string): Buffer {
  const out = Buffer.alloc(rows.length * dim * 4);
  let at = 0;
  for (let r = 0; r < rows.length; r++) {
    const e = rows[r];
    if (!(e instanceof Float32Array) || e.length !== dim) {
      throw new RangeError(`${what} ${r}: expected a Float32Array of ${dim} values, got ${e instanceof Float32Array ? e.length : typeof e}`);
    }
    at = putFloats(out, at, e);
  }
  return out;
}

function putFloats(out: Buffer, at: number, e: Float32Array): number {
  if (LITTLE_ENDIAN) {
    Buffer.from(e.buffer, e.byteOffset, e.byteLength).copy(out, at);
    return at + e.byteLength;
  }
  for (let j = 0; j < e.length; j++, at += 4) out.writeFloatLE(e[j], at);
  return at;
}

/** A Float32 LE buffer → one fresh Float32Array (the buffer may sit at any byte offset). */
export function bufferToFloats(buf: Buffer, what: string): Float32Array {
  if (buf.length % 4 !== 0) throw new Error(`${what}: ${buf.length} bytes is not a whole number of float32 values`);
  const out = new Float32Array(buf.length / 4);
  if (LITTLE_ENDIAN) new Uint8Array(out.buffer).set(buf);
  else for (let i = 0; i < out.length; i++) out[i] = buf.readFloatLE(i * 4);
  return out;
}

/** A Float32 LE buffer → rows of `dim` values (views of one array per buffer: never write to them). */
export function bufferToRows(buf: Buffer, dim: number, what: string): Float32Array[] {
  if (buf.length % (dim * 4) !== 0) throw new Error(`${what}: ${buf.length} bytes is not a whole number of ${dim}-d float32 rows`);
  const all = bufferToFloats(buf, what);
  const rows: Float32Array[] = [];
  for (let at = 0; at < all.length; at += dim) rows.push(all.subarray(at, at + dim));
  return rows;
}


const MetaSchema = z.strictObject({
  format: z.literal(REDIS_FORMAT),
  embedder: z.string().min(1),
  dim: z.number().int().positive(),
  metric: z.enum(['cosine', 'euclidean']),
  thresholds: ThresholdsSchema,
  watchlists: z.array(z.strictObject({ name: z.string().min(1), identities: z.array(z.string()), active: z.boolean() })),
  ids: z.array(z.string().min(1)),
});
export type GalleryMeta = z.infer<typeof MetaSchema>;

const ModelMetaSchema = z.strictObject({
  format: z.literal(REDIS_FORMAT),
  embedder: z.string().min(1),
  dim: z.number().int().positive(),
  ids: z.array(z.string().min(1)),
  options: z.strictObject({
    C: z.number().positive(),
    loss: z.enum(['l1', 'l2']),
    bias: z.number().nonnegative(),
    eps: z.number().positive(),
    maxIter: z.number().int().positive(),
    seed: z.number(),
    classWeight: z.enum(['balanced', 'none']),
    workingSet: z.number().int().nonnegative(),
  }),
  backgroundCount: z.number().int().nonnegative(),
  stats: z.strictObject({
    trainMs: z.number(),
    maxIterations: z.number(),
    maxRounds: z.number(),
    hitIterationLimit: z.number(),
    threadId: z.number(),
  }),
});
export type ModelMeta = z.infer<typeof ModelMetaSchema>;

function parseJson<T>(schema: z.ZodType<T>, text: string, what: string): T {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new Error(`${what} is not JSON (${(e as Error).message})`);
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    throw new Error(`${what} is not a facestream format-${REDIS_FORMAT} record: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`);
  }
  return parsed.data;
}

/** JSON has no NaN/Infinity: a non-finite optional figure is left out (as the file store does). */
function storableThresholds(t: Thresholds): Thresholds {
  if (!Number.isFinite(t.svm) || !Number.isFinite(t.distance)) {
    throw new RangeError(`cannot store non-finite thresholds (svm ${t.svm}, distance ${t.distance})`);
  }
  const out: Thresholds = { svm: t.svm, distance: t.distance };
  for (const k of ['targetFpir', 'achievedFpir', 'estimatedFnir', 'calibratedAt', 'calibrationSize'] as const) {
    const v = t[k];
    if (v !== undefined && (typeof v !== 'number' || Number.isFinite(v))) (out as unknown as Record<string, unknown>)[k] = v;
  }
  return out;
}

/** Checks what Redis keys and the decoder rely on: slug ids, unique, watchlists naming known ids. */
export function checkGallery(gallery: Gallery): void {
  const ids = new Set<string>();
  for (const i of gallery.identities) {
    if (!isSlug(i.id)) throw new Error(`identity id "${i.id}" is not a slug: refusing to store it`);
    if (ids.has(i.id)) throw new Error(`identity "${i.id}" appears twice in the gallery`);
    ids.add(i.id);
  }
  for (const w of gallery.watchlists) {
    for (const id of w.identities) if (!ids.has(id)) throw new Error(`watchlist "${w.name}" names unknown identity "${id}"`);
  }
}

export function encodeMeta(gallery: Gallery): string {
  const meta: GalleryMeta = {
    format: REDIS_FORMAT,
    embedder: gallery.embedder,
    dim: gallery.dim,
    metric: gallery.metric,
    thresholds: storableThresholds(gallery.thresholds),
    watchlists: gallery.watchlists.map((w) => ({ name: w.name, identities: [...w.identities], active: w.active })),
    ids: gallery.identities.map((i) => i.id),
  };
  return JSON.stringify(meta);
}

export function decodeMeta(text: string, what: string): GalleryMeta {
  const meta = parseJson(MetaSchema, text, what);
  const ids = new Set<string>();
  for (const id of meta.ids) {
    if (!isSlug(id)) throw new Error(`${what}: identity id "${id}" is not a slug`);
    if (ids.has(id)) throw new Error(`${what}: identity "${id}" appears twice`);
    ids.add(id);
  }
  for (const w of meta.watchlists) {
    for (const id of w.identities) if (!ids.has(id)) throw new Error(`${what}: watchlist "${w.name}" names unknown identity "${id}"`);
  }
  return meta;
}

/** Field/value pairs of an identity's hash. */
export function encodeIdentity(identity: Identity, dim: number): [string, string | Buffer][] {
  return [
    ['name', identity.name],
    ['createdAt', identity.createdAt],
    ['embeddings', rowsToBuffer(identity.embeddings, dim, `identity "${identity.id}" embedding`)],
    ['negatives', rowsToBuffer(identity.negatives, dim, `identity "${identity.id}" negative`)],
  ];
}

export function decodeIdentity(id: string, hash: Record<string, Buffer>, dim: number, what: string): Identity {
  for (const f of ['name', 'createdAt', 'embeddings', 'negatives']) {
    if (!(hash[f] instanceof Buffer)) throw new Error(`${what}: field "${f}" is missing`);
  }
  const embeddings = bufferToRows(hash.embeddings, dim, `${what} embeddings`);
  if (embeddings.length === 0) throw new Error(`${what}: no embeddings`);
  return {
    id,
    name: hash.name.toString('utf8'),
    createdAt: hash.createdAt.toString('utf8'),
    embeddings,
    negatives: bufferToRows(hash.negatives, dim, `${what} negatives`),
  };
}

/** Model hash fields; the model must have been trained on this gallery's identities and example counts. */
export function encodeModel(model: SvmModel, gallery: Gallery): [string, string | Buffer][] {
  const shape = galleryShape(gallery);
  if (!sameShape(model.shape, shape)) {
    throw new Error(
      `model was trained on gallery version ${model.shape.galleryVersion} (${model.shape.ids.length} identities), which differs ` +
        `from the gallery being saved (${shape.ids.length} identities) in identities or examples: retrain, or save without the model`,
    );
  }
  const n = shape.ids.length;
  if (model.weights.length !== n * gallery.dim || model.bias.length !== n) {
    throw new RangeError(`model holds ${model.weights.length} weights and ${model.bias.length} biases, ${n * gallery.dim} and ${n} expected`);
  }
  const meta: ModelMeta = {
    format: REDIS_FORMAT,
    embedder: shape.embedder,
    dim: shape.dim,
    ids: shape.ids,
    options: { ...model.options },
    backgroundCount: model.backgroundCount,
    stats: { ...model.stats },
  };
  return [
    ['meta', JSON.stringify(meta)],
    ['weights', rowsToBuffer([model.weights], model.weights.length, 'model weights')],
    ['bias', rowsToBuffer([model.bias], model.bias.length, 'model bias')],
  ];
}

export function decodeModelMeta(hash: Record<string, Buffer>, what: string): ModelMeta {
  if (!(hash.meta instanceof Buffer)) throw new Error(`${what}: field "meta" is missing`);
  return parseJson(ModelMetaSchema, hash.meta.toString('utf8'), `${what} meta`);
}

/** The stored model of `gallery` (whose version is the stored version), checked against it. */
export function decodeModel(hash: Record<string, Buffer>, gallery: Gallery, what: string): SvmModel {
  const meta = decodeModelMeta(hash, what);
  for (const f of ['weights', 'bias']) if (!(hash[f] instanceof Buffer)) throw new Error(`${what}: field "${f}" is missing`);
  const shape = galleryShape(gallery);
  if (meta.embedder !== shape.embedder || meta.dim !== shape.dim || meta.ids.length !== shape.ids.length || meta.ids.some((id, k) => id !== shape.ids[k])) {
    throw new Error(`${what} was stored for other identities than the gallery's (${meta.ids.length} against ${shape.ids.length})`);
  }
  const weights = bufferToFloats(hash.weights, `${what} weights`);
  const bias = bufferToFloats(hash.bias, `${what} bias`);
  if (weights.length !== shape.ids.length * shape.dim || bias.length !== shape.ids.length) {
    throw new Error(`${what}: ${weights.length} weights and ${bias.length} biases, ${shape.ids.length * shape.dim} and ${shape.ids.length} expected`);
  }
  return { shape, options: meta.options, weights, bias, backgroundCount: meta.backgroundCount, stats: meta.stats };
}

/** The model's records without identity `id`'s row (erasure keeps the other identities' SVMs usable). */
export function removeModelRow(hash: Record<string, Buffer>, id: string, what: string): [string, string | Buffer][] | undefined {
  const meta = decodeModelMeta(hash, what);
  const k = meta.ids.indexOf(id);
  if (k < 0) return undefined;
  const row = meta.dim * 4;
  const w = hash.weights;
  const b = hash.bias;
  if (!(w instanceof Buffer) || !(b instanceof Buffer) || w.length !== meta.ids.length * row || b.length !== meta.ids.length * 4) {
    throw new Error(`${what}: weights/bias do not match its ${meta.ids.length} identities`);
  }
  const next: ModelMeta = { ...meta, ids: meta.ids.filter((x) => x !== id) };
  return [
    ['meta', JSON.stringify(next)],
    ['weights', Buffer.concat([w.subarray(0, k * row), w.subarray((k + 1) * row)])],
    ['bias', Buffer.concat([b.subarray(0, k * 4), b.subarray((k + 1) * 4)])],
  ];
}
