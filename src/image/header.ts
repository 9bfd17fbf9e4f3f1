/**
 * Pure inspection of an encoded image's header and container structure, done BEFORE handing the
 * bytes to OpenCV, so that:
 *  - gigantic dimensions are rejected without allocating the pixel buffer (a 30000x30000 PNG is
 *    a few hundred bytes on disk and 2.7 GB decoded);
 *  - truncated JPEG/PNG/WebP/BMP files are reported instead of silently decoding a half-grey picture
 *    (libjpeg fills the missing rows and only prints a warning);
 *  - only the five formats we support ever reach OpenCV's decoders (it would also try PFM, HDR,
 *    Sun raster, PXM, JPEG 2000, OpenEXR, ... whose headers we do not check).
 *
 * Dimensions come from `image-size` for PNG, WebP and TIFF. JPEG and BMP are parsed here because
 * we must walk them anyway (JPEG: marker segments up to the end-of-image marker, covering all 13
 * SOF kinds, where image-size knows only SOF0-2; BMP: both the OS/2 and Windows header layouts,
 * where image-size reads only the latter) — these are small, fixed format definitions.
 */
import { imageSize } from 'image-size';
import { ImageInputError } from './errors';

export type ImageFormat = 'jpeg' | 'png' | 'bmp' | 'webp' | 'tiff';

export const SUPPORTED_FORMATS_TEXT = 'a JPEG, PNG, BMP, WebP or TIFF image';

/** File-name extensions (lower case, with dot) of the formats we decode. */
export const IMAGE_EXTENSIONS: Readonly<Record<string, ImageFormat>> = {
  '.jpg': 'jpeg',
  '.jpeg': 'jpeg',
  '.jpe': 'jpeg',
  '.jfif': 'jpeg',
  '.png': 'png',
  '.bmp': 'bmp',
  '.dib': 'bmp',
  '.webp': 'webp',
  '.tif': 'tiff',
  '.tiff': 'tiff',
};

export interface DecodeLimits {
  /** Largest encoded file accepted, in bytes. Default 50 MB (50 * 1024 * 1024). */
  readonly maxFileBytes: number;
  /** Largest width * height accepted. Default 40 megapixels (40_000_000). */
  readonly maxPixels: number;
  /** Largest width or height accepted, in pixels. Default 16384. */
  readonly maxSide: number;
}

export const DEFAULT_DECODE_LIMITS: DecodeLimits = Object.freeze({
  maxFileBytes: 50 * 1024 * 1024,
  maxPixels: 40_000_000,
  maxSide: 16384,
});

/**
 * Ceilings for configured limits: OpenCV asserts (and the binding then aborts the process) above
 * 2^30 pixels or 2^20 pixels per side, and a decoded frame must fit in one Node Buffer.
 */
const HARD_LIMITS: DecodeLimits = { maxFileBytes: 1024 * 1024 * 1024, maxPixels: 500_000_000, maxSide: 65535 };

/** Fills in defaults and checks the limits themselves (a programming error, so a RangeError). */
export function resolveLimits(limits?: Partial<DecodeLimits>): DecodeLimits {
  const out = { ...DEFAULT_DECODE_LIMITS, ...(limits ?? {}) };
  for (const key of ['maxFileBytes', 'maxPixels', 'maxSide'] as const) {
    const v = out[key];
    if (!Number.isFinite(v) || v <= 0) throw new RangeError(`DecodeLimits.${key} must be a positive number, got ${v}`);
    if (v > HARD_LIMITS[key]) {
      throw new RangeError(`DecodeLimits.${key} = ${v} is above the supported maximum ${HARD_LIMITS[key]} (OpenCV and Node buffer limits)`);
    }
  }
  return out;
}

export interface ImageHeader {
  readonly format: ImageFormat;
  readonly width: number;
  readonly height: number;
}

/** Format by content signature (magic bytes), or undefined when it is none of ours. */
export function sniffFormat(buf: Uint8Array): ImageFormat | undefined {
  const b = buf;
  if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return 'jpeg';
  if (b.length >= 8 && b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47 &&
      b[4] === 0x0d && b[5] === 0x0a && b[6] === 0x1a && b[7] === 0x0a) return 'png';
  if (b.length >= 2 && b[0] === 0x42 && b[1] === 0x4d) return 'bmp';
  if (b.length >= 12 && ascii(b, 0, 4) === 'RIFF' && ascii(b, 8, 12) === 'WEBP') return 'webp';
  if (b.length >= 4 && ((b[0] === 0x49 && b[1] === 0x49 && b[2] === 0x2a && b[3] === 0x00) ||
      (b[0] === 0x4d && b[1] === 0x4d && b[2] === 0x00 && b[3] === 0x2a))) return 'tiff';
  return undefined;
}

const FORMAT_NAMES: Record<ImageFormat, string> = { jpeg: 'JPEG', png: 'PNG', bmp: 'BMP', webp: 'WebP', tiff: 'TIFF' };

/**
 * Checks `buf` (the whole encoded file) and returns its format and size, or throws ImageInputError:
 * 'empty', 'too-large-file', 'unsupported-format', 'corrupt', 'truncated', 'too-large-dimensions'.
 * When both the size and the structure are bad, the size is reported (it is found first).
 */
export function inspectImage(buf: Uint8Array, name: string, limits: DecodeLimits): ImageHeader {
  if (buf.length === 0) throw new ImageInputError('empty', name, `is empty (0 bytes); expected ${SUPPORTED_FORMATS_TEXT}`);
  if (buf.length > limits.maxFileBytes) {
    throw new ImageInputError('too-large-file', name,
      `is ${formatBytes(buf.length)}, over the limit of ${formatBytes(limits.maxFileBytes)} (maxFileBytes); ` +
      `expected a smaller image file`);
  }
  const format = sniffFormat(buf);
  if (!format) throw unrecognised(buf, name);

  let structure: Structure;
  switch (format) {
    case 'jpeg': structure = walkJpeg(buf); break;
    case 'png': structure = walkPng(buf); break;
    case 'bmp': structure = walkBmp(buf); break;
    case 'webp': structure = checkRiff(buf); break;
    case 'tiff': structure = {}; break;
  }
  let { width, height } = structure;
  if (width === undefined || height === undefined) {
    if (structure.problem) throw new ImageInputError(structure.problem.code, name, structure.problem.detail);
    try {
      const size = imageSize(buf);
      width = size.width;
      height = size.height;
    } catch (err) {
      throw new ImageInputError('corrupt', name,
        `looks like ${FORMAT_NAMES[format]} but its header cannot be read (${(err as Error).message}); ` +
        `expected a well-formed ${FORMAT_NAMES[format]} file`, { cause: err });
    }
  }
  if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0) {
    throw new ImageInputError('corrupt', name,
      `${FORMAT_NAMES[format]} header gives an invalid size ${width}x${height}; expected positive width and height`);
  }
  checkDimensions(width, height, name, limits);
  if (structure.problem) throw new ImageInputError(structure.problem.code, name, structure.problem.detail);
  return { format, width, height };
}

export function checkDimensions(width: number, height: number, name: string, limits: DecodeLimits): void {
  if (width > limits.maxSide || height > limits.maxSide || width * height > limits.maxPixels) {
    throw new ImageInputError('too-large-dimensions', name,
      `declares ${width}x${height} pixels (${(width * height / 1e6).toFixed(1)} megapixels); expected at most ` +
      `${limits.maxSide} pixels per side and ${(limits.maxPixels / 1e6).toFixed(1)} megapixels (maxSide, maxPixels) — ` +
      'not decoded, to keep memory bounded');
  }
}

interface Structure {
  width?: number;
  height?: number;
  problem?: { code: 'corrupt' | 'truncated'; detail: string };
}

function unrecognised(buf: Uint8Array, name: string): ImageInputError {
  const start = describeStart(buf);
  let other: string | undefined;
  try {
    other = imageSize(buf).type;
  } catch {
    other = undefined;
  }
  if (other) {
    return new ImageInputError('unsupported-format', name,
      `is a ${other.toUpperCase()} image, which is not supported; expected ${SUPPORTED_FORMATS_TEXT} (convert it first)`);
  }
  const ext = extensionOf(name);
  const claimed = IMAGE_EXTENSIONS[ext];
  if (claimed) {
    return new ImageInputError('corrupt', name,
      `is named ${ext} but does not contain ${FORMAT_NAMES[claimed]} data (it starts with ${start}); ` +
      `expected ${SUPPORTED_FORMATS_TEXT}`);
  }
  return new ImageInputError('unsupported-format', name,
    `is not a recognised image (it starts with ${start}${ext ? `, extension ${ext}` : ''}); expected ${SUPPORTED_FORMATS_TEXT}`);
}

export function extensionOf(name: string): string {
  const base = name.slice(Math.max(name.lastIndexOf('/'), name.lastIndexOf('\\')) + 1);
  const dot = base.lastIndexOf('.');
  return dot > 0 ? base.slice(dot).toLowerCase() : '';
}

function describeStart(buf: Uint8Array): string {
  const head = buf.subarray(0, 8);
  const hex = Array.from(head, (x) => x.toString(16).padStart(2, '0')).join(' ');
  const text = Array.from(head, (x) => (x >= 0x20 && x < 0x7f ? String.fromCharCode(x) : '.')).join('');
  return `bytes ${hex} "${text}"`;
}

function ascii(b: Uint8Array, from: number, to: number): string {
  let s = '';
  for (let i = from; i < to && i < b.length; i++) s += String.fromCharCode(b[i]);
  return s;
}

const u16be = (b: Uint8Array, i: number): number => (b[i] << 8) | b[i + 1];
const u32be = (b: Uint8Array, i: number): number => ((b[i] << 24) | (b[i + 1] << 16) | (b[i + 2] << 8) | b[i + 3]) >>> 0;
const u16le = (b: Uint8Array, i: number): number => b[i] | (b[i + 1] << 8);
const u32le = (b: Uint8Array, i: number): number => (b[i] | (b[i + 1] << 8) | (b[i + 2] << 16) | (b[i + 3] << 24)) >>> 0;
const i32le = (b: Uint8Array, i: number): number => b[i] | (b[i + 1] << 8) | (b[i + 2] << 16) | (b[i + 3] << 24);

function truncated(detail: string): Structure['problem'] {
  return { code: 'truncated', detail };
}
function corrupt(detail: string): Structure['problem'] {
  return { code: 'corrupt', detail };
}

/**
 * JPEG (ITU T.81 annex B): SOI, then marker segments (FFxx + 16-bit length) up to SOS, then
 * entropy-coded data in which FF is followed by 00 (stuffing), D0-D7 (restart) or a real marker;
 * further segments (DHT, SOS of progressive scans, ...) may follow, and the image ends with EOI (FFD9).
 * Returns the first frame header's (SOFn) size and whether EOI is present.
 */
function walkJpeg(b: Uint8Array): Structure {
  const out: Structure = {};
  let pos = 2; // after SOI
  let seenScan = false;
  while (pos < b.length) {
    if (b[pos] !== 0xff) {
      if (!seenScan) {
        out.problem = corrupt(`JPEG has no marker at byte ${pos} where one was expected; expected a well-formed JPEG file`);
        return out;
      }
      const next = b.indexOf(0xff, pos); // skip entropy-coded data up to the next FF
      if (next < 0) break;
      pos = next;
      continue;
    }
    while (pos < b.length && b[pos] === 0xff) pos++; // fill bytes
    if (pos >= b.length) break;
    const marker = b[pos];
    pos++;
    if (marker === 0xd9) {
      if (!seenScan) out.problem = corrupt('JPEG ends (EOI marker) before any image data (no SOS scan); expected a complete JPEG');
      return out;
    }
    if (seenScan && (marker === 0x00 || (marker >= 0xd0 && marker <= 0xd7))) continue; // stuffing / restart
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) continue; // standalone markers
    if (marker === 0xd8) {
      out.problem = corrupt(`JPEG has a second start-of-image marker at byte ${pos - 2}; expected a single JPEG image`);
      return out;
    }
    if (pos + 2 > b.length) break;
    const length = u16be(b, pos);
    if (length < 2) {
      out.problem = corrupt(`JPEG segment FF${hex2(marker)} at byte ${pos - 2} has invalid length ${length}; expected a well-formed JPEG file`);
      return out;
    }
    const isSof = marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
    if (isSof && out.width === undefined) {
      if (length < 8) {
        out.problem = corrupt(`JPEG frame header (FF${hex2(marker)}) at byte ${pos - 1} is too short (${length} bytes); expected a well-formed JPEG file`);
        return out;
      }
      if (pos + 7 > b.length) break;
      out.height = u16be(b, pos + 3);
      out.width = u16be(b, pos + 5);
      if (out.height === 0) {
        out.problem = corrupt('JPEG frame header has height 0 (defined later by a DNL marker, which the decoder does not support); expected an explicit height');
        return out;
      }
    }
    if (marker === 0xda) {
      if (out.width === undefined) {
        out.problem = corrupt('JPEG scan (SOS) comes before any frame header (SOFn); expected a well-formed JPEG file');
        return out;
      }
      seenScan = true;
    }
    pos += length;
  }
  if (!out.problem) {
    out.problem = out.width === undefined
      ? truncated(`JPEG data ends at byte ${b.length} before the frame header (SOFn); the file is truncated (expected a complete JPEG)`)
      : truncated(`JPEG data ends at byte ${b.length} without the end-of-image marker (FFD9); the file is truncated ` +
        '(expected a complete JPEG; decoding it would give a partly grey picture)');
  }
  return out;
}

function hex2(x: number): string {
  return x.toString(16).toUpperCase().padStart(2, '0');
}

/** PNG: 8-byte signature, then chunks (length, type, data, CRC); IHDR first, IDAT data, IEND last. */
function walkPng(b: Uint8Array): Structure {
  const out: Structure = {};
  let pos = 8;
  let first = true;
  let idat = 0;
  while (pos + 8 <= b.length) {
    const length = u32be(b, pos);
    const type = ascii(b, pos + 4, pos + 8);
    if (length > 0x7fffffff) {
      out.problem = corrupt(`PNG chunk "${type}" at byte ${pos} has invalid length ${length}; expected a well-formed PNG file`);
      return out;
    }
    if (first) {
      first = false;
      if (type !== 'IHDR' || length !== 13 || pos + 16 > b.length) {
        out.problem = corrupt(`PNG does not start with a 13-byte IHDR chunk (found "${type}"); expected a well-formed PNG file`);
        return out;
      }
      out.width = u32be(b, pos + 8);
      out.height = u32be(b, pos + 12);
    }
    const end = pos + 12 + length;
    if (end > b.length) break;
    if (type === 'IDAT') idat++;
    if (type === 'IEND') {
      if (idat === 0) out.problem = corrupt('PNG has no image data (no IDAT chunk); expected a complete PNG');
      return out;
    }
    pos = end;
  }
  out.problem = truncated(`PNG data ends at byte ${b.length} without the IEND chunk; the file is truncated (expected a complete PNG)`);
  return out;
}

/** WebP: RIFF container whose declared size must fit in the file. Size comes from image-size. */
function checkRiff(b: Uint8Array): Structure {
  const declared = u32le(b, 4) + 8;
  if (b.length < 16) return { problem: truncated(`WebP data ends at byte ${b.length} inside the RIFF header; expected a complete WebP`) };
  if (declared > b.length) {
    return { problem: truncated(`WebP RIFF header declares ${declared} bytes but the file has ${b.length}; the file is truncated (expected a complete WebP)`) };
  }
  return {};
}

/** BMP: 14-byte file header + DIB header (12-byte OS/2 core or >= 40-byte Windows info header). */
function walkBmp(b: Uint8Array): Structure {
  if (b.length < 26) return { problem: truncated(`BMP data ends at byte ${b.length} inside the headers; expected a complete BMP`) };
  const dataOffset = u32le(b, 10);
  const dibSize = u32le(b, 14);
  let width: number;
  let height: number;
  let bpp: number;
  let compression = 0;
  if (dibSize === 12) {
    width = u16le(b, 18);
    height = u16le(b, 20);
    bpp = u16le(b, 24);
  } else if (dibSize >= 40 && dibSize <= 124) {
    if (b.length < 34) return { problem: truncated(`BMP data ends at byte ${b.length} inside the DIB header; expected a complete BMP`) };
    width = i32le(b, 18);
    height = Math.abs(i32le(b, 22)); // negative height = top-down rows
    bpp = u16le(b, 28);
    compression = u32le(b, 30);
  } else {
    return { problem: corrupt(`BMP DIB header size ${dibSize} is not a known layout; expected 12 (OS/2) or 40..124 (Windows) — not a valid BMP`) };
  }
  if (![1, 4, 8, 16, 24, 32].includes(bpp)) {
    return { problem: corrupt(`BMP declares ${bpp} bits per pixel; expected 1, 4, 8, 16, 24 or 32`) };
  }
  if (compression > 3) {
    return { problem: corrupt(`BMP uses compression method ${compression}; expected 0 (none), 1/2 (RLE) or 3 (bit fields)`) };
  }
  const out: Structure = { width, height };
  if (width <= 0 || height <= 0) return out; // reported as an invalid size by the caller
  if (dataOffset < 14 + dibSize || dataOffset > b.length) {
    out.problem = dataOffset > b.length
      ? truncated(`BMP pixel data should start at byte ${dataOffset} but the file has ${b.length} bytes; the file is truncated (expected a complete BMP)`)
      : corrupt(`BMP pixel data offset ${dataOffset} overlaps the headers; expected a well-formed BMP`);
    return out;
  }
  if (compression === 0 || compression === 3) {
    const stride = Math.floor((width * bpp + 31) / 32) * 4;
    const needed = dataOffset + stride * height;
    if (needed > b.length) {
      out.problem = truncated(`BMP needs ${needed} bytes for ${width}x${height} at ${bpp} bits per pixel but the file has ${b.length}; the file is truncated (expected a complete BMP)`);
    }
  }
  return out;
}

export function formatBytes(n: number): string {
  if (n >= 1024 * 1024) return `${(n / (1024 * 1024)).toFixed(1)} MB`;
  if (n >= 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${n} bytes`;
}
