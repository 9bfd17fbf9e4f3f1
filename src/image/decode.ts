/**
 * Safe still-image decoding to BGR Frames (enrolment, evaluation).
 *
 * Every problem with the input becomes an ImageInputError (see errors.ts for the codes); nothing
 * else is thrown for bad input. The order of checks keeps memory bounded: file type and size are
 * checked with stat before reading, the header is inspected (header.ts) before decoding, and only
 * then does OpenCV imdecode allocate width*height*3 bytes.
 *
 * OpenCV decodes with IMREAD_COLOR: grey, palette, alpha and 16-bit images become 8-bit BGR (alpha
 * is dropped, not composited) and the EXIF orientation of JPEGs is applied (so width/height may be
 * the header's swapped).
 *
 * Note on the OpenCV binding: its synchronous imdecode does not catch C++ exceptions, so an OpenCV
 * assertion inside it would abort the process. The checks in header.ts rule out the known ones
 * (empty buffer, dimensions over OpenCV's own limits); decodeImageFile and decodeImageBufferAsync
 * use imdecodeAsync, whose worker turns any C++ exception into a rejected promise.
 */
import { lstat, open, readlink, stat } from 'node:fs/promises';
import { constants, type Stats } from 'node:fs';
import type { Mat } from '@u4/opencv4nodejs';
import { cv } from '../util/cv';
import { ImageInputError } from './errors';
import type { Frame } from './frame';
import {
  checkDimensions,
  formatBytes,
  inspectImage,
  resolveLimits,
  SUPPORTED_FORMATS_TEXT,
  type DecodeLimits,
  type ImageHeader,
} from './header';

export type { DecodeLimits, ImageFormat, ImageHeader } from './header';
export { DEFAULT_DECODE_LIMITS, IMAGE_EXTENSIONS, inspectImage, sniffFormat } from './header';
export { ImageInputError, type ImageInputErrorCode } from './errors';

/** Reads and decodes an image file to a BGR Frame. Rejects only with ImageInputError for bad input. */
export async function decodeImageFile(file: string, limits?: Partial<DecodeLimits>): Promise<Frame> {
  const lim = resolveLimits(limits);
  const buf = await readImageFile(file, lim);
  return decodeImageBufferAsync(buf, file, lim);
}

/**
 * Decodes an in-memory encoded image (the whole file) to a BGR Frame; `name` is used in messages.
 * Synchronous: blocks the event loop for the decode (tens of ms for a photo); prefer
 * decodeImageBufferAsync or decodeImageFile in servers.
 */
export function decodeImageBuffer(buf: Uint8Array, name: string, limits?: Partial<DecodeLimits>): Frame {
  const lim = resolveLimits(limits);
  const header = inspectImage(buf, name, lim);
  const cvm = cv();
  let mat: Mat;
  try {
    mat = cvm.imdecode(asBuffer(buf), cvm.IMREAD_COLOR);
  } catch (err) {
    throw decodeFailed(header, name, err);
  }
  return toFrame(mat, header, name, lim);
}

/** As decodeImageBuffer, but decodes on the libuv thread pool. */
export async function decodeImageBufferAsync(buf: Uint8Array, name: string, limits?: Partial<DecodeLimits>): Promise<Frame> {
  const lim = resolveLimits(limits);
  const header = inspectImage(buf, name, lim);
  const cvm = cv();
  let mat: Mat;
  try {
    mat = await cvm.imdecodeAsync(asBuffer(buf), cvm.IMREAD_COLOR);
  } catch (err) {
    throw decodeFailed(header, name, err);
  }
  return toFrame(mat, header, name, lim);
}

/**
 * Reads a whole image file after checking, without reading it, that it exists, is a regular file
 * and is within maxFileBytes. Rejects with ImageInputError ('not-found', 'not-a-file', 'unreadable',
 * 'empty', 'too-large-file').
 */
export async function readImageFile(file: string, limits?: Partial<DecodeLimits>): Promise<Buffer> {
  const lim = resolveLimits(limits);
  let st: Stats;
  try {
    st = await stat(file);
  } catch (err) {
    throw await statFailed(file, err);
  }
  checkStats(file, st, lim);
  let fh;
  try {
    // O_NONBLOCK: if the path was swapped for a FIFO after stat(), open must not hang (fstat below rejects it).
    fh = await open(file, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (err) {
    throw ioFailed(file, 'cannot be opened', err);
  }
  try {
    const st2 = await fh.stat(); // the file may have changed since stat(); trust the open handle
    checkStats(file, st2, lim);
    const buf = Buffer.allocUnsafe(st2.size);
    let filled = 0;
    while (filled < buf.length) {
      const { bytesRead } = await fh.read(buf, filled, buf.length - filled, filled);
      if (bytesRead === 0) break;
      filled += bytesRead;
    }
    if (filled === 0) throw new ImageInputError('empty', file, `is empty (0 bytes); expected ${SUPPORTED_FORMATS_TEXT}`);
    return filled === buf.length ? buf : buf.subarray(0, filled);
  } catch (err) {
    if (err instanceof ImageInputError) throw err;
    throw ioFailed(file, 'cannot be read', err);
  } finally {
    await fh.close().catch(() => undefined);
  }
}

function checkStats(file: string, st: Stats, lim: DecodeLimits): void {
  if (st.isDirectory()) throw new ImageInputError('not-a-file', file, 'is a directory; expected an image file');
  if (!st.isFile()) {
    const kind = st.isFIFO() ? 'a named pipe' : st.isSocket() ? 'a socket'
      : st.isCharacterDevice() || st.isBlockDevice() ? 'a device' : 'not a regular file';
    throw new ImageInputError('not-a-file', file, `is ${kind}; expected a regular image file`);
  }
  if (st.size === 0) throw new ImageInputError('empty', file, `is empty (0 bytes); expected ${SUPPORTED_FORMATS_TEXT}`);
  if (st.size > lim.maxFileBytes) {
    throw new ImageInputError('too-large-file', file,
      `is ${formatBytes(st.size)}, over the limit of ${formatBytes(lim.maxFileBytes)} (maxFileBytes); expected a smaller image file`);
  }
}

async function statFailed(file: string, err: unknown): Promise<ImageInputError> {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT' || code === 'ENOTDIR') {
    // Say whether it is a dangling symbolic link: "does not exist" alone would be confusing.
    try {
      const l = await lstat(file);
      if (l.isSymbolicLink()) {
        const target = await readlink(file).catch(() => '?');
        return new ImageInputError('not-found', file,
          `is a symbolic link to ${target}, which does not exist; expected an image file`, { cause: err });
      }
    } catch {
      // not there at all
    }
    return new ImageInputError('not-found', file, 'does not exist; expected an image file', { cause: err });
  }
  if (code === 'ELOOP') {
    return new ImageInputError('unreadable', file, 'is a symbolic link loop; expected an image file', { cause: err });
  }
  return ioFailed(file, 'cannot be examined', err);
}

function ioFailed(file: string, what: string, err: unknown): ImageInputError {
  const e = err as NodeJS.ErrnoException;
  const reason = e.code === 'EACCES' || e.code === 'EPERM' ? 'permission denied' : (e.message ?? String(err));
  return new ImageInputError('unreadable', file, `${what} (${reason}); expected a readable image file`, { cause: err });
}

function decodeFailed(header: ImageHeader, name: string, err: unknown): ImageInputError {
  const msg = err instanceof Error && err.message && err.message !== 'undefined' ? `: ${err.message}` : '';
  return new ImageInputError('corrupt', name,
    `${header.format.toUpperCase()} image (${header.width}x${header.height}) could not be decoded${msg}; ` +
    `expected a valid ${header.format.toUpperCase()} file`, { cause: err });
}

function toFrame(mat: Mat, header: ImageHeader, name: string, lim: DecodeLimits): Frame {
  if (mat.empty || mat.rows === 0 || mat.cols === 0) {
    throw new ImageInputError('corrupt', name,
      `${header.format.toUpperCase()} image (${header.width}x${header.height} by its header) could not be decoded: ` +
      `the image data is damaged; expected a valid ${header.format.toUpperCase()} file`);
  }
  const { cols: width, rows: height } = mat;
  const sameSize = (width === header.width && height === header.height) || (width === header.height && height === header.width);
  if (!sameSize) {
    throw new ImageInputError('corrupt', name,
      `decoded to ${width}x${height} but its header says ${header.width}x${header.height}; expected a consistent ${header.format.toUpperCase()} file`);
  }
  checkDimensions(width, height, name, lim);
  if (mat.type !== cv().CV_8UC3) {
    // IMREAD_COLOR always yields 8-bit BGR; anything else means the binding changed under us.
    throw new Error(`OpenCV imdecode(IMREAD_COLOR) returned Mat type ${mat.type}, expected CV_8UC3 (${cv().CV_8UC3})`);
  }
  const data = mat.getData();
  return { width, height, data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
}

function asBuffer(buf: Uint8Array): Buffer {
  return Buffer.isBuffer(buf) ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
}
