import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {
  DEFAULT_DECODE_LIMITS,
  decodeImageBuffer,
  decodeImageBufferAsync,
  decodeImageFile,
  inspectImage,
  type ImageInputErrorCode,
} from '../../src/image/decode';
import { IMAGE_INPUT_ERROR_CODES, ImageInputError } from '../../src/image/errors';
import { cv } from '../../src/util/cv';

/** A deterministic BGR test picture: gradients plus a pattern, so JPEG has real content to code. */
function picture(width: number, height: number, smooth = false): Buffer {
  const b = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const o = (y * width + x) * 3;
      b[o] = (x * 255) / Math.max(1, width - 1);
      b[o + 1] = (y * 255) / Math.max(1, height - 1);
      b[o + 2] = smooth ? ((x + y) * 2) & 0xff : ((x ^ y) * 7) & 0xff;
    }
  }
  return b;
}

function encode(ext: string, width: number, height: number, type = cv().CV_8UC3, data?: Buffer, params?: number[]): Buffer {
  const channels = type === cv().CV_8UC1 ? 1 : type === cv().CV_8UC4 ? 4 : type === cv().CV_16UC3 ? 6 : 3;
  const buf = data ?? (channels === 3 ? picture(width, height) : Buffer.alloc(width * height * channels, 77));
  const c = cv();
  return c.imencode(ext, new c.Mat(buf, height, width, type), params ?? []);
}

/** Offset of the first JPEG SOF0..SOF2 marker. */
function sofOffset(jpeg: Buffer): number {
  for (let i = 2; i < jpeg.length - 1; i++) if (jpeg[i] === 0xff && jpeg[i + 1] >= 0xc0 && jpeg[i + 1] <= 0xc2) return i;
  throw new Error('no SOF in test JPEG');
}

/** Deterministic pseudo-random bytes (LCG). */
function noise(n: number, seed: number): Buffer {
  const b = Buffer.alloc(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    b[i] = s >>> 24;
  }
  return b;
}

const GIF_1X1 = Buffer.from('R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7', 'base64');

let dir: string;
before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'facestream-decode-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function expectCode(file: string, code: ImageInputErrorCode, limits?: Partial<typeof DEFAULT_DECODE_LIMITS>): Promise<ImageInputError> {
  let caught: unknown;
  try {
    await decodeImageFile(file, limits);
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof ImageInputError, `${path.basename(file)}: expected ImageInputError(${code}), got ${caught === undefined ? 'a decoded frame' : String(caught)}`);
  assert.equal(caught.code, code, `${path.basename(file)}: ${caught.message}`);
  assert.ok(caught.message.includes(file), `message names the file: ${caught.message}`);
  assert.ok(/expected|limit/.test(caught.message), `message says what was expected: ${caught.message}`);
  assert.ok(IMAGE_INPUT_ERROR_CODES.includes(caught.code));
  return caught;
}

describe('bad image inputs become ImageInputError with a code', () => {
  test('generated corpus of bad files', async () => {
    const jpeg = encode('.jpg', 200, 150);
    const png = encode('.png', 200, 150);
    const bmp = encode('.bmp', 40, 30);
    const webp = encode('.webp', 64, 48);
    const f = (name: string): string => path.join(dir, name);

    const cases: [string, ImageInputErrorCode, (p: string) => Promise<void>, Partial<typeof DEFAULT_DECODE_LIMITS>?][] = [
      ['zero.jpg', 'empty', (p) => writeFile(p, Buffer.alloc(0))],
      ['text.jpg', 'corrupt', (p) => writeFile(p, 'this is a text file, not a picture\n')],
      ['random.png', 'corrupt', (p) => writeFile(p, noise(4096, 42))],
      ['notes.txt', 'unsupported-format', (p) => writeFile(p, 'just some notes\n')],
      ['half.jpg', 'truncated', (p) => writeFile(p, jpeg.subarray(0, Math.floor(jpeg.length / 2)))],
      ['no-eoi.jpg', 'truncated', (p) => writeFile(p, jpeg.subarray(0, jpeg.length - 2))],
      ['header-only.jpg', 'truncated', (p) => writeFile(p, jpeg.subarray(0, 20))],
      ['half.png', 'truncated', (p) => writeFile(p, png.subarray(0, Math.floor(png.length * 0.6)))],
      ['no-iend.png', 'truncated', (p) => writeFile(p, png.subarray(0, png.length - 12))],
      ['damaged-idat.png', 'corrupt', (p) => {
        const b = Buffer.from(png);
        for (let i = 60; i < 90; i++) b[i] ^= 0x5a; // inside the first IDAT: CRC and zlib fail
        return writeFile(p, b);
      }],
      ['huge.png', 'too-large-dimensions', (p) => {
        const b = Buffer.from(png);
        b.writeUInt32BE(30000, 16);
        b.writeUInt32BE(30000, 20);
        return writeFile(p, b);
      }],
      ['huge.jpg', 'too-large-dimensions', (p) => {
        const b = Buffer.from(jpeg);
        const o = sofOffset(b);
        b.writeUInt16BE(30000, o + 5);
        b.writeUInt16BE(30000, o + 7);
        return writeFile(p, b);
      }],
      ['wide.png', 'too-large-dimensions', (p) => { // 20000 x 10 = 0.2 MP but over 16384 per side
        const b = Buffer.from(png);
        b.writeUInt32BE(20000, 16);
        b.writeUInt32BE(10, 20);
        return writeFile(p, b);
      }],
      ['bad-bpp.bmp', 'corrupt', (p) => {
        const b = Buffer.from(bmp);
        b.writeUInt16LE(7, 28);
        return writeFile(p, b);
      }],
      ['bad-dib.bmp', 'corrupt', (p) => {
        const b = Buffer.from(bmp);
        b.writeUInt32LE(5, 14);
        return writeFile(p, b);
      }],
      ['short.bmp', 'truncated', (p) => writeFile(p, bmp.subarray(0, bmp.length - 100))],
      ['short.webp', 'truncated', (p) => writeFile(p, webp.subarray(0, webp.length - 10))],
      ['dir.jpg', 'not-a-file', (p) => mkdir(p)],
      ['dangling.jpg', 'not-found', (p) => symlink(path.join(dir, 'no-such-target.jpg'), p)],
      ['missing.jpg', 'not-found', async () => undefined],
      ['loop.jpg', 'unreadable', (p) => symlink(p, p)],
      ['big.jpg', 'too-large-file', (p) => writeFile(p, jpeg), { maxFileBytes: 1000 }],
      ['anim.gif', 'unsupported-format', (p) => writeFile(p, GIF_1X1)],
      ['vector.svg', 'unsupported-format', (p) => writeFile(p, '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10"/></svg>\n')],
      ['gif-named.jpg', 'unsupported-format', (p) => writeFile(p, GIF_1X1)],
      ['limit-side.png', 'too-large-dimensions', (p) => writeFile(p, png), { maxSide: 100 }],
      ['limit-pixels.png', 'too-large-dimensions', (p) => writeFile(p, png), { maxPixels: 10_000 }],
    ];
    assert.ok(cases.length >= 12);
    for (const [name, , make] of cases) await make(f(name));
    for (const [name, code, , limits] of cases) await expectCode(f(name), code, limits);

    // The same buffers through the synchronous in-memory path.
    assert.throws(() => decodeImageBuffer(jpeg.subarray(0, jpeg.length / 2), 'mem.jpg'),
      (e: unknown) => e instanceof ImageInputError && e.code === 'truncated' && e.message.startsWith('mem.jpg: '));
    assert.throws(() => decodeImageBuffer(new Uint8Array(0), 'mem0.png'), (e: unknown) => e instanceof ImageInputError && e.code === 'empty');
    assert.throws(() => decodeImageBuffer(Buffer.from('hello'), 'mem.png'), (e: unknown) => e instanceof ImageInputError && e.code === 'corrupt');
  });

  test('a named pipe is not read (would block)', async (t) => {
    const p = path.join(dir, 'pipe.jpg');
    try {
      execFileSync('mkfifo', [p]);
    } catch {
      t.skip('mkfifo is not available');
      return;
    }
    await expectCode(p, 'not-a-file');
  });

  test('gigantic headers are rejected before any pixel memory is allocated', async () => {
    const png = encode('.png', 64, 48);
    const jpeg = encode('.jpg', 64, 48);
    const hugePng = Buffer.from(png);
    hugePng.writeUInt32BE(30000, 16);
    hugePng.writeUInt32BE(30000, 20);
    const hugeJpeg = Buffer.from(jpeg);
    const o = sofOffset(hugeJpeg);
    hugeJpeg.writeUInt16BE(30000, o + 5);
    hugeJpeg.writeUInt16BE(30000, o + 7);
    // A JPEG that is nothing but SOI + SOF0(30000x30000) + EOI.
    const sofOnly = Buffer.from([0xff, 0xd8, 0xff, 0xc0, 0x00, 0x11, 0x08, 0x75, 0x30, 0x75, 0x30, 0x03,
      0x01, 0x22, 0x00, 0x02, 0x11, 0x01, 0x03, 0x11, 0x01, 0xff, 0xd9]);
    for (let i = 0; i < 20; i++) {
      for (const [buf, name] of [[hugePng, 'huge.png'], [hugeJpeg, 'huge.jpg'], [sofOnly, 'sof-only.jpg']] as const) {
        await assert.rejects(decodeImageBufferAsync(buf, name), (e: unknown) => e instanceof ImageInputError && e.code === 'too-large-dimensions' && /30000x30000/.test(e.message));
        assert.throws(() => decodeImageBuffer(buf, name), (e: unknown) => e instanceof ImageInputError && e.code === 'too-large-dimensions');
      }
    }
    const rssMb = process.memoryUsage().rss / 2 ** 20;
    assert.ok(rssMb < 500, `rss ${rssMb.toFixed(0)} MB after rejecting 30000x30000 headers (a decode would need 2.5 GB)`);
  });
});

describe('valid images decode to BGR frames of the right size', () => {
  test('1x1 images are valid', async () => {
    for (const ext of ['.png', '.jpg', '.bmp']) {
      const p = path.join(dir, `one${ext}`);
      await writeFile(p, encode(ext, 1, 1));
      const frame = await decodeImageFile(p);
      assert.equal(frame.width, 1);
      assert.equal(frame.height, 1);
      assert.equal(frame.data.length, 3);
    }
  });

  test('lossless formats give back the exact pixels; JPEG is close', async () => {
    const w = 64;
    const h = 48;
    const src = picture(w, h);
    for (const [ext, params] of [['.png', undefined], ['.bmp', undefined], ['.tiff', undefined], ['.webp', [cv().IMWRITE_WEBP_QUALITY, 101]]] as const) {
      const p = path.join(dir, `exact${ext}`);
      await writeFile(p, encode(ext, w, h, cv().CV_8UC3, src, params ? [...params] : undefined));
      const frame = await decodeImageFile(p);
      assert.deepEqual([frame.width, frame.height], [w, h], ext);
      assert.ok(frame.data instanceof Uint8Array);
      assert.equal(Buffer.compare(Buffer.from(frame.data), src), 0, `${ext} pixels differ`);
      const sync = decodeImageBuffer(encode(ext, w, h, cv().CV_8UC3, src, params ? [...params] : undefined), `mem${ext}`);
      assert.equal(Buffer.compare(Buffer.from(sync.data), src), 0, `${ext} (sync) pixels differ`);
    }
    const smooth = picture(w, h, true);
    const jpeg = encode('.jpg', w, h, cv().CV_8UC3, smooth, [cv().IMWRITE_JPEG_QUALITY, 95]);
    const frame = decodeImageBuffer(jpeg, 'q95.jpg');
    assert.deepEqual([frame.width, frame.height], [w, h]);
    let err = 0;
    for (let i = 0; i < smooth.length; i++) err += Math.abs(frame.data[i] - smooth[i]);
    assert.ok(err / smooth.length < 3, `mean abs JPEG error ${err / smooth.length}`);
  });

  test('grey, alpha and 16-bit PNGs become 8-bit BGR', async () => {
    const grey = decodeImageBuffer(encode('.png', 30, 20, cv().CV_8UC1), 'grey.png');
    assert.deepEqual([grey.width, grey.height, grey.data.length], [30, 20, 30 * 20 * 3]);
    assert.ok(grey.data.every((v) => v === 77));
    const greyJpeg = decodeImageBuffer(encode('.jpg', 30, 20, cv().CV_8UC1), 'grey.jpg');
    assert.equal(greyJpeg.data.length, 30 * 20 * 3);
    const bgra = Buffer.alloc(30 * 20 * 4);
    for (let i = 0; i < bgra.length; i += 4) bgra.set([10, 20, 30, 40], i);
    const alpha = decodeImageBuffer(encode('.png', 30, 20, cv().CV_8UC4, bgra), 'alpha.png');
    assert.equal(alpha.data.length, 30 * 20 * 3);
    assert.deepEqual([...alpha.data.subarray(0, 6)], [10, 20, 30, 10, 20, 30]);
    const deep = Buffer.alloc(30 * 20 * 6);
    for (let i = 0; i < deep.length; i += 6) { deep.writeUInt16LE(1000, i); deep.writeUInt16LE(20000, i + 2); deep.writeUInt16LE(65535, i + 4); }
    const d16 = decodeImageBuffer(encode('.png', 30, 20, cv().CV_16UC3, deep), 'deep.png');
    assert.deepEqual([...d16.data.subarray(0, 3)], [3, 78, 255]); // value >> 8, rounded
  });

  test('inspectImage reads the size without decoding and sniffs by content, not name', () => {
    const png = encode('.png', 33, 17);
    assert.deepEqual(inspectImage(png, 'really-a-png.jpg', DEFAULT_DECODE_LIMITS), { format: 'png', width: 33, height: 17 });
    const frame = decodeImageBuffer(png, 'really-a-png.jpg');
    assert.deepEqual([frame.width, frame.height], [33, 17]);
    const progressive = encode('.jpg', 40, 30, cv().CV_8UC3, undefined, [cv().IMWRITE_JPEG_PROGRESSIVE, 1]);
    assert.deepEqual(inspectImage(progressive, 'p.jpg', DEFAULT_DECODE_LIMITS), { format: 'jpeg', width: 40, height: 30 });
    assert.throws(() => inspectImage(progressive.subarray(0, progressive.length - 2), 'p.jpg', DEFAULT_DECODE_LIMITS),
      (e: unknown) => e instanceof ImageInputError && e.code === 'truncated');
  });

  test('invalid limits are a programming error', () => {
    assert.throws(() => decodeImageBuffer(encode('.png', 2, 2), 'x.png', { maxSide: 0 }), RangeError);
    assert.throws(() => decodeImageBuffer(encode('.png', 2, 2), 'x.png', { maxPixels: 2 ** 31 }), /supported maximum/);
  });
});
