/**
 * Generates a corpus of bad image inputs (and one good one) in a directory, for the eval CLI and API tests.
 * Each entry names the ImageInputError code the decoder must report.
 */
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { cv } from '../../src/util/cv';

export interface BadImage {
  file: string;
  code: string;
}

function jpeg(width: number, height: number): Buffer {
  const m = new (cv().Mat)(height, width, cv().CV_8UC3, [90, 140, 200]);
  return cv().imencode('.jpg', m);
}

function png(width: number, height: number): Buffer {
  const m = new (cv().Mat)(height, width, cv().CV_8UC3, [30, 60, 90]);
  return cv().imencode('.png', m);
}

/** A PNG whose IHDR claims width x height (CRC is recomputed so only the size is "wrong"). */
function pngHeader(width: number, height: number): Buffer {
  const buf = Buffer.from(png(8, 8));
  buf.writeUInt32BE(width, 16);
  buf.writeUInt32BE(height, 20);
  const crc = crc32(buf.subarray(12, 29));
  buf.writeUInt32BE(crc >>> 0, 29);
  return buf;
}

function crc32(data: Buffer): number {
  let c = ~0;
  for (const byte of data) {
    c ^= byte;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xedb88320 : c >>> 1;
  }
  return ~c;
}

/** A JPEG whose SOF0 claims width x height. */
function jpegHeader(width: number, height: number): Buffer {
  const buf = Buffer.from(jpeg(16, 16));
  for (let i = 2; i < buf.length - 9; i++) {
    if (buf[i] === 0xff && buf[i + 1] >= 0xc0 && buf[i + 1] <= 0xc2) {
      buf.writeUInt16BE(height, i + 5);
      buf.writeUInt16BE(width, i + 7);
      return buf;
    }
  }
  throw new Error('no SOF marker in the generated JPEG');
}

/** Writes the corpus into `dir/<label>/…` and returns the entries; at least 12 bad files. */
export function writeBadImageCorpus(dir: string, label = 'bad'): BadImage[] {
  const d = path.join(dir, label);
  mkdirSync(d, { recursive: true });
  const out: BadImage[] = [];
  const put = (name: string, data: Buffer | string, code: string) => {
    const file = path.join(d, name);
    writeFileSync(file, data);
    out.push({ file, code });
  };
  put('zero-byte.jpg', Buffer.alloc(0), 'empty');
  put('text.jpg', 'this is not an image\n', 'corrupt');
  put('random.png', Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919 + 13) % 256)), 'corrupt');
  const full = jpeg(320, 240);
  put('truncated.jpg', full.subarray(0, Math.floor(full.length / 2)), 'truncated');
  const p = png(320, 240);
  put('truncated.png', p.subarray(0, Math.floor(p.length * 0.6)), 'truncated');
  put('gigantic-header.png', pngHeader(30000, 30000), 'too-large-dimensions');
  put('gigantic-header.jpg', jpegHeader(30000, 30000), 'too-large-dimensions');
  put('bad-header.bmp', Buffer.concat([Buffer.from('BM'), Buffer.alloc(60, 0xff)]), 'corrupt');
  put('animation.gif', Buffer.from('GIF89a\x01\x00\x01\x00\x00\x00\x00;', 'binary'), 'unsupported-format');
  put('vector.svg', '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"></svg>', 'unsupported-format');
  const dirEntry = path.join(d, 'folder.jpg');
  mkdirSync(dirEntry, { recursive: true });
  out.push({ file: dirEntry, code: 'not-a-file' });
  const link = path.join(d, 'dangling.jpg');
  symlinkSync(path.join(d, 'does-not-exist.jpg'), link);
  out.push({ file: link, code: 'not-found' });
  return out;
}
