/**
 * protobufjs plumbing shared by the record codecs: the parsed schema (proto.ts, parsed once at load, no generated
 * code), the common decode path (bytes → message, with schema version and record type checked) and the
 * conversions between protobufjs values and ours (int64, float32 bytes).
 */
import { endianness } from 'node:os';
import protobuf from 'protobufjs';
import { type RecordTypeName, SchemaError } from './errors';
import { FACESTREAM_PROTO, SCHEMA_VERSION } from './proto';

const root = protobuf.parse(FACESTREAM_PROTO, { keepCase: false }).root;
// Features (proto3 packing, presence) are resolved only by resolveAll(); without it, packed fields are written
// unpacked.
root.resolveAll();

export const wireTypes = {
  FaceCrop: root.lookupType('facestream.v1.FaceCrop'),
  FaceEmbedding: root.lookupType('facestream.v1.FaceEmbedding'),
  AlertRecord: root.lookupType('facestream.v1.AlertRecord'),
  CameraAssignment: root.lookupType('facestream.v1.CameraAssignment'),
  DeadLetter: root.lookupType('facestream.v1.DeadLetter'),
  CameraStatus: root.lookupType('facestream.v1.CameraStatus'),
  RecordHeader: root.lookupType('facestream.v1.RecordHeader'),
} as const;

const VersionHeader = root.lookupType('facestream.v1.VersionHeader');

/** RecordType enum values of proto.ts, by record name. */
export const RECORD_TYPE: Readonly<Record<Exclude<RecordTypeName, 'RecordHeader'>, number>> = (() => {
  const values = root.lookupEnum('facestream.v1.RecordType').values;
  return {
    FaceCrop: values.FACE_CROP,
    FaceEmbedding: values.FACE_EMBEDDING,
    AlertRecord: values.ALERT_RECORD,
    CameraAssignment: values.CAMERA_ASSIGNMENT,
    DeadLetter: values.DEAD_LETTER,
    CameraStatus: values.CAMERA_STATUS,
  };
})();

function withArticle(word: string): string {
  return `${/^[AEIOU]/i.test(word) ? 'an' : 'a'} ${word}`;
}

export function recordTypeName(value: number): string {
  const hit = (Object.keys(RECORD_TYPE) as (keyof typeof RECORD_TYPE)[]).find((k) => RECORD_TYPE[k] === value);
  return hit ?? `unknown record type ${value}`;
}

/** int64 as protobufjs decodes it: a Long (when the `long` package is present) or a number. */
export type WireInt64 = number | { low: number; high: number; unsigned?: boolean };

/** A decoded int64 as a JS number (exact up to 2^53; callers check Number.isSafeInteger). */
export function int64ToNumber(v: WireInt64): number {
  if (typeof v === 'number') return v;
  return v.high * 4294967296 + (v.low >>> 0);
}

/** A decoded int64 as an exact decimal string. */
export function int64ToString(v: WireInt64): string {
  if (typeof v === 'number') return String(v);
  return BigInt.asIntN(64, (BigInt(v.high >>> 0) << 32n) | BigInt(v.low >>> 0)).toString();
}

/** A decimal string as protobufjs accepts an int64 exactly ({low, high} bits). */
export function stringToInt64(s: string): { low: number; high: number } {
  const b = BigInt.asUintN(64, BigInt(s));
  return { low: Number(b & 0xffffffffn) | 0, high: Number(b >> 32n) | 0 };
}

const LITTLE_ENDIAN = endianness() === 'LE';

/** Float32Array → its little-endian bytes (a view on little-endian hosts, no copy). */
export function float32ToBytes(f: Float32Array): Uint8Array {
  if (LITTLE_ENDIAN) return new Uint8Array(f.buffer, f.byteOffset, f.byteLength);
  const out = new Uint8Array(f.byteLength);
  const dv = new DataView(out.buffer);
  for (let i = 0; i < f.length; i++) dv.setFloat32(i * 4, f[i], true);
  return out;
}

/**
 * Little-endian float32 bytes → Float32Array: a view into the same memory when it is 4-byte aligned (and the host
 * little-endian), a copy otherwise. The caller has checked that b.byteLength === 4 * dim.
 */
export function bytesToFloat32(b: Uint8Array, dim: number): Float32Array {
  if (LITTLE_ENDIAN && b.byteOffset % 4 === 0) return new Float32Array(b.buffer, b.byteOffset, dim);
  const out = new Float32Array(dim);
  if (LITTLE_ENDIAN) {
    new Uint8Array(out.buffer).set(b.subarray(0, dim * 4));
  } else {
    const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
    for (let i = 0; i < dim; i++) out[i] = dv.getFloat32(i * 4, true);
  }
  return out;
}

/** A Uint8Array as a Buffer over the same memory (kafkajs takes Buffers). */
export function asBuffer(u: Uint8Array): Buffer {
  return Buffer.isBuffer(u) ? u : Buffer.from(u.buffer, u.byteOffset, u.byteLength);
}

/** Encodes a wire object (already validated by the caller) with the schema version and record type set. */
export function encodeWire(name: Exclude<RecordTypeName, 'RecordHeader'>, wire: object): Buffer {
  const message = { schemaVersion: SCHEMA_VERSION, type: RECORD_TYPE[name], ...wire };
  return asBuffer(wireTypes[name].encode(message).finish());
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

interface WireHead {
  schemaVersion: number;
  type: number;
}

/**
 * Decodes bytes as `name`, checking the schema version and the record type, then runs `read` (the field checks
 * and conversion). Every failure becomes a SchemaError; nothing else escapes.
 */
export function decodeWire<W, T>(
  name: RecordTypeName,
  bytes: Uint8Array | null | undefined,
  read: (wire: W) => T,
  acceptTypes: readonly number[] = [RECORD_TYPE[name as keyof typeof RECORD_TYPE]],
): T {
  if (bytes === null || bytes === undefined) throw new SchemaError(name, 'no value (a null record; tombstones are meaningful only on the cameras topic)');
  if (!(bytes instanceof Uint8Array)) throw new SchemaError(name, `expected bytes (Uint8Array/Buffer), got ${typeof bytes}`);
  // First the version and type alone (every other field is skipped by its wire type, so this works whatever the
  // version or type): a record of another version or type is named as such, not as a decoding failure.
  let head: WireHead;
  try {
    head = VersionHeader.decode(bytes) as unknown as WireHead;
  } catch (err) {
    throw new SchemaError(name, `not a valid protobuf record (truncated or garbage bytes): ${errorText(err)}`);
  }
  if (head.schemaVersion === 0) throw new SchemaError(name, 'missing schema_version (not a facestream record, or corrupt bytes)');
  if (head.schemaVersion !== SCHEMA_VERSION) {
    throw new SchemaError(name, `unsupported schema version ${head.schemaVersion} (this reader supports ${SCHEMA_VERSION})`);
  }
  if (!acceptTypes.includes(head.type)) {
    const expected = name === 'RecordHeader' ? 'a FaceCrop, FaceEmbedding or AlertRecord' : withArticle(name);
    throw new SchemaError(name, `expected ${expected} record, got ${head.type === 0 ? 'no record type' : `${withArticle(recordTypeName(head.type))} record`}`);
  }
  let wire: unknown;
  try {
    wire = wireTypes[name].decode(bytes);
  } catch (err) {
    throw new SchemaError(name, `malformed ${name} record: ${errorText(err)}`);
  }
  try {
    return read(wire as unknown as W);
  } catch (err) {
    if (err instanceof SchemaError) throw err;
    throw new SchemaError(name, `malformed record: ${errorText(err)}`);
  }
}

/**
 * Runs an encoder body: SchemaErrors (from its checks) pass through; anything else a malformed input object causes
 * (a TypeError on a missing nested object, say) becomes a SchemaError too.
 */
export function guardEncode<T>(c: { type: RecordTypeName }, body: () => T): T {
  try {
    return body();
  } catch (err) {
    if (err instanceof SchemaError) throw err;
    throw new SchemaError(c.type, `malformed input: ${errorText(err)}`);
  }
}
