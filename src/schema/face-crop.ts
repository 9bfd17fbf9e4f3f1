/** FaceCrop (ingest → embed): a face's context plus the aligned BGR crop the embedder takes. */
import { Check } from './check';
import { decodeWire, encodeWire, guardEncode } from './codec';
import { contextFromWire, contextToWire, type WireFaceContext } from './face-context';
import type { DecodeOptions, FaceCrop } from './types';

/** Largest crop side accepted (embedder inputs are 112-224 px). */
const MAX_CROP_SIDE = 4096;

interface WireFaceCrop extends WireFaceContext {
  crop: { width: number; height: number; bgr: Uint8Array } | null;
}

function checkCrop(c: Check, width: unknown, height: unknown, data: unknown): void {
  const w = c.int('crop.width', width, 1, MAX_CROP_SIDE);
  const h = c.int('crop.height', height, 1, MAX_CROP_SIDE);
  const b = c.bytes('crop.bgr', data);
  if (b.byteLength !== w * h * 3) c.fail('crop.bgr', `expected ${w * h * 3} bytes (${w} x ${h} x 3 BGR), got ${b.byteLength}`);
}

/** Validates and encodes (throws SchemaError naming the field when the record is not valid). */
export function encodeFaceCrop(m: FaceCrop): Buffer {
  const c = new Check('FaceCrop');
  return guardEncode(c, () => {
    const wire = contextToWire(c, m) as WireFaceCrop;
    const crop = c.present('crop', m.crop);
    checkCrop(c, crop.width, crop.height, crop.data);
    wire.crop = { width: crop.width, height: crop.height, bgr: crop.data };
    return encodeWire('FaceCrop', wire);
  });
}

/**
 * Decodes and validates; throws only SchemaError. crop.data and faceJpeg are views into `bytes` (no copy) unless
 * options.copy (see DecodeOptions).
 */
export function decodeFaceCrop(bytes: Uint8Array | null | undefined, options: DecodeOptions = {}): FaceCrop {
  return decodeWire('FaceCrop', bytes, (w: WireFaceCrop) => {
    const c = new Check('FaceCrop');
    const ctx = contextFromWire(c, w, options.copy);
    const crop = c.present('crop', w.crop);
    checkCrop(c, crop.width, crop.height, crop.bgr);
    const data = options.copy ? Uint8Array.prototype.slice.call(crop.bgr) : crop.bgr;
    return { ...ctx, crop: { width: crop.width, height: crop.height, data } };
  });
}
