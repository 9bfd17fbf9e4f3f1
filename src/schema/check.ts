/**
 * Field checks shared by encoders (a producer's bug is caught before the record is sent) and decoders (a bad
 * record is rejected with the field named). Fields are named as in proto.ts. Messages never show string or
 * byte values (they can be URLs with credentials or biometric data); numbers are shown.
 */
import { CAMERA_NAME_EXPECTED, CAMERA_NAME_PATTERN } from '../config/names';
import { type RecordTypeName, SchemaError } from './errors';
import type { StageStamp } from './types';

/** Stage labels: lower-case, metric-label safe. */
export const STAGE_PATTERN = /^[a-z][a-z0-9_.-]{0,63}$/;
/** Model (embedder descriptor) names. */
const MODEL_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;
/** More stamps than this means a record is looping between stages. */
export const MAX_STAGES = 64;

export class Check {
  constructor(readonly type: RecordTypeName) {}

  fail(field: string, problem: string): never {
    throw new SchemaError(this.type, `${field}: ${problem}`);
  }

  camera(field: string, v: unknown): string {
    if (typeof v !== 'string' || v.length === 0) this.fail(field, `missing (${CAMERA_NAME_EXPECTED})`);
    if (!CAMERA_NAME_PATTERN.test(v)) this.fail(field, `${CAMERA_NAME_EXPECTED}; got a string of ${v.length} characters that is not one (not shown)`);
    return v;
  }

  text(field: string, v: unknown, maxLength = 256): string {
    if (typeof v !== 'string' || v.length === 0) this.fail(field, 'missing (expected a non-empty string)');
    if (v.length > maxLength) this.fail(field, `expected at most ${maxLength} characters, got ${v.length}`);
    return v;
  }

  model(field: string, v: unknown): string {
    const s = this.text(field, v, 128);
    if (!MODEL_PATTERN.test(s)) this.fail(field, 'expected a model name (A-Z a-z 0-9 _ . -)');
    return s;
  }

  /** Milliseconds since the epoch, > 0 (0 is what an absent field decodes to). */
  ms(field: string, v: unknown): number {
    if (v === 0) this.fail(field, 'missing (expected ms since the epoch)');
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) this.fail(field, `expected ms since the epoch (a positive integer), got ${String(v)}`);
    return v;
  }

  int(field: string, v: unknown, min: number, max: number): number {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
      this.fail(field, `${v === 0 && min > 0 ? 'missing; ' : ''}expected an integer ${min}..${max}, got ${String(v)}`);
    }
    return v;
  }

  finite(field: string, v: unknown): number {
    if (typeof v !== 'number' || !Number.isFinite(v)) this.fail(field, `expected a finite number, got ${String(v)}`);
    return v;
  }

  range(field: string, v: unknown, min: number, max: number): number {
    const n = this.finite(field, v);
    if (n < min || n > max) this.fail(field, `expected ${min}..${max}, got ${n}`);
    return n;
  }

  positive(field: string, v: unknown): number {
    const n = this.finite(field, v);
    if (!(n > 0)) this.fail(field, `${n === 0 ? 'missing; ' : ''}expected a number > 0, got ${n}`);
    return n;
  }

  bytes(field: string, v: unknown): Uint8Array {
    if (!(v instanceof Uint8Array) || v.byteLength === 0) this.fail(field, 'missing (expected bytes)');
    return v;
  }

  jpeg(field: string, v: unknown): Uint8Array {
    const b = this.bytes(field, v);
    if (b.byteLength < 3 || b[0] !== 0xff || b[1] !== 0xd8 || b[2] !== 0xff) this.fail(field, 'expected JPEG bytes (starting FF D8 FF)');
    return b;
  }

  present<T>(field: string, v: T | null | undefined): T {
    if (v === null || v === undefined) this.fail(field, 'missing');
    return v;
  }

  stages(field: string, v: readonly StageStamp[]): StageStamp[] {
    if (!Array.isArray(v)) this.fail(field, 'expected a list of stage stamps');
    if (v.length > MAX_STAGES) this.fail(field, `expected at most ${MAX_STAGES} stamps, got ${v.length}`);
    const out: StageStamp[] = new Array(v.length);
    for (let i = 0; i < v.length; i++) {
      const s = v[i];
      if (typeof s?.stage !== 'string' || !STAGE_PATTERN.test(s.stage)) this.fail(`${field}[${i}].stage`, 'expected a stage label (a-z 0-9 _ . -, starting with a letter, at most 64)');
      out[i] = { stage: s.stage, tsMs: this.ms(`${field}[${i}].ts_ms`, s.tsMs) };
    }
    return out;
  }
}
