/**
 * Aligned BGR uint8 crops → the float batch an embedder's ONNX model takes.
 *
 * Pure and allocation-free per pixel: each channel's (x - mean) / std is tabulated once per call
 * for the 256 possible byte values, so the inner loops are a table look-up and a store. The
 * table also makes the values exact (the same float as `Math.fround((x - mean) / std)`).
 */
import type { EmbedderDescriptor } from '../models/descriptor';

/** A BGR uint8 interleaved image of the embedder's input size (AlignedFace.crop). */
export interface Crop {
  readonly width: number;
  readonly height: number;
  /** width * height * 3 bytes, B,G,R order, row-major, no padding. */
  readonly data: Uint8Array;
}

export interface ToTensorOptions {
  /** Mirror each crop horizontally (for flip augmentation). */
  flip?: boolean;
}

/** Number of floats one crop occupies in the model's input tensor. */
export function itemSize(d: EmbedderDescriptor): number {
  return d.input.width * d.input.height * 3;
}

/** Tensor dims for a batch of n: [n,3,H,W] (NCHW) or [n,H,W,3] (NHWC). */
export function inputDims(d: EmbedderDescriptor, n: number): number[] {
  const { width: w, height: h, layout } = d.input;
  return layout === 'NCHW' ? [n, 3, h, w] : [n, h, w, 3];
}

/** Throws a RangeError naming the crop index and the sizes when a crop does not fit the descriptor. */
export function checkCrop(crop: Crop, index: number, d: EmbedderDescriptor): void {
  const { width: w, height: h } = d.input;
  if (crop.width !== w || crop.height !== h) {
    throw new RangeError(
      `crop ${index} is ${crop.width}x${crop.height}, the embedder "${d.name}" expects ${w}x${h} ` +
        '(crops must be aligned to the embedder\'s input size)',
    );
  }
  if (crop.data.length !== w * h * 3) {
    throw new RangeError(
      `crop ${index} data holds ${crop.data.length} bytes, expected ${w}x${h}x3 = ${w * h * 3} (BGR uint8)`,
    );
  }
}

/** 3 x 256 table: lut[c * 256 + v] = (v - mean[c]) / std[c], c in the model's colour order. */
function normalisationTable(d: EmbedderDescriptor): Float32Array {
  const lut = new Float32Array(768);
  for (let c = 0; c < 3; c++) {
    const mean = d.input.mean[c];
    const std = d.input.std[c];
    if (!(std !== 0 && Number.isFinite(std))) {
      throw new RangeError(`embedder "${d.name}": input.std[${c}] must be a finite non-zero number, got ${std}`);
    }
    for (let v = 0; v < 256; v++) lut[c * 256 + v] = (v - mean) / std;
  }
  return lut;
}

/**
 * Writes crops into `out` starting at batch row `startRow` (out must hold (startRow + crops.length)
 * rows). Lets callers reuse one buffer and place original and flipped crops in one batch.
 */
export function writeTensor(
  crops: readonly Crop[],
  d: EmbedderDescriptor,
  out: Float32Array,
  startRow = 0,
  opts: ToTensorOptions = {},
): void {
  const w = d.input.width;
  const h = d.input.height;
  const plane = w * h;
  const item = plane * 3;
  if (out.length < (startRow + crops.length) * item) {
    throw new RangeError(
      `tensor buffer holds ${out.length} floats, ${(startRow + crops.length) * item} needed ` +
        `for rows ${startRow}..${startRow + crops.length - 1} of ${w}x${h}x3`,
    );
  }
  for (let i = 0; i < crops.length; i++) checkCrop(crops[i], i, d);

  const lut = normalisationTable(d);
  // Model channel c reads source (BGR) byte s[c] of each pixel.
  const rgb = d.input.colorOrder === 'RGB';
  const s0 = rgb ? 2 : 0;
  const s2 = rgb ? 0 : 2;
  const flip = opts.flip === true;
  const nchw = d.input.layout === 'NCHW';

  // One loop per layout, no branch per pixel; a flipped row is read right to left.
  const step = flip ? -3 : 3;
  const rowStart = flip ? (w - 1) * 3 : 0;
  for (let i = 0; i < crops.length; i++) {
    const src = crops[i].data;
    const base = (startRow + i) * item;
    if (nchw) {
      let o = base;
      for (let y = 0; y < h; y++) {
        let si = y * w * 3 + rowStart;
        for (let x = 0; x < w; x++, si += step, o++) {
          out[o] = lut[src[si + s0]];
          out[o + plane] = lut[256 + src[si + 1]];
          out[o + 2 * plane] = lut[512 + src[si + s2]];
        }
      }
    } else {
      let o = base;
      for (let y = 0; y < h; y++) {
        let si = y * w * 3 + rowStart;
        for (let x = 0; x < w; x++, si += step, o += 3) {
          out[o] = lut[src[si + s0]];
          out[o + 1] = lut[256 + src[si + 1]];
          out[o + 2] = lut[512 + src[si + s2]];
        }
      }
    }
  }
}

/**
 * Crops (BGR uint8, the descriptor's input size) → a new [N,H,W,3] or [N,3,H,W] float batch in the
 * descriptor's colour order, each value (x - mean[c]) / std[c].
 */
export function toTensor(crops: readonly Crop[], d: EmbedderDescriptor, opts: ToTensorOptions = {}): Float32Array {
  const out = new Float32Array(crops.length * itemSize(d));
  writeTensor(crops, d, out, 0, opts);
  return out;
}
