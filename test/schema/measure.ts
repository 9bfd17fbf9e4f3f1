/**
 * Record sizes and codec times for a batch of 32 (not a test: run `node dist/test/schema/measure.js`).
 * Times are the median of 30 timed rounds after 10 warm-up rounds, on whatever CPU runs it.
 */
import {
  decodeAlertRecord,
  decodeCameraAssignment,
  decodeFaceCrop,
  decodeFaceEmbedding,
  decodeRecordHeader,
  encodeAlertRecord,
  encodeCameraAssignment,
  encodeFaceCrop,
  encodeFaceEmbedding,
} from '../../src/schema';
import { alert, camera, faceCrop, faceEmbedding, FAKE_JPEG, randomBytes } from './fixtures';

const BATCH = 32;
/** A typical face-region JPEG (q90, ~130x160 px) is 5-10 KB. */
const JPEG = Buffer.concat([Buffer.from(FAKE_JPEG.subarray(0, 4)), Buffer.from(randomBytes(6000, 5))]);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function time<T>(fn: () => T): number {
  for (let i = 0; i < 10; i++) fn();
  const t: number[] = [];
  for (let i = 0; i < 30; i++) {
    const t0 = process.hrtime.bigint();
    fn();
    t.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  return median(t);
}

function row<M>(name: string, records: M[], encode: (m: M) => Buffer, decode: (b: Buffer) => unknown): void {
  const bytes = records.map(encode);
  const enc = time(() => records.map(encode));
  const dec = time(() => bytes.map(decode));
  const hdr = time(() => bytes.map(decodeRecordHeader));
  const size = bytes[0].byteLength;
  console.log(
    `${name.padEnd(34)} ${String(size).padStart(7)} B   encode x${BATCH} ${enc.toFixed(3).padStart(7)} ms   decode x${BATCH} ${dec.toFixed(3).padStart(7)} ms   header x${BATCH} ${hdr.toFixed(3)} ms`,
  );
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i);
row('FaceCrop 150x150, no jpeg', range(BATCH).map((i) => faceCrop(i, { jpeg: false })), encodeFaceCrop, decodeFaceCrop);
row('FaceCrop 150x150 + 6 KB jpeg', range(BATCH).map((i) => ({ ...faceCrop(i), faceJpeg: JPEG })), encodeFaceCrop, decodeFaceCrop);
row('FaceCrop 112x112 + 6 KB jpeg', range(BATCH).map((i) => ({ ...faceCrop(i, { side: 112 }), faceJpeg: JPEG })), encodeFaceCrop, decodeFaceCrop);
row('FaceEmbedding 128-d, no jpeg', range(BATCH).map((i) => faceEmbedding(i, { jpeg: false })), encodeFaceEmbedding, decodeFaceEmbedding);
row('FaceEmbedding 128-d + 6 KB jpeg', range(BATCH).map((i) => ({ ...faceEmbedding(i), faceJpeg: JPEG })), encodeFaceEmbedding, decodeFaceEmbedding);
row('FaceEmbedding 512-d, no jpeg', range(BATCH).map((i) => faceEmbedding(i, { dim: 512, jpeg: false })), encodeFaceEmbedding, decodeFaceEmbedding);
const stamps = faceCrop().stages;
row('AlertRecord + 6 KB jpeg', range(BATCH).map((i) => ({ alert: { ...alert(i), faceJpeg: JPEG.toString('base64') }, stages: stamps })), encodeAlertRecord, decodeAlertRecord);
const cams = range(BATCH).map((i) => camera({ name: `cam-${i}` }));
const camBytes = cams.map(encodeCameraAssignment);
console.log(
  `${'CameraAssignment'.padEnd(34)} ${String(camBytes[0].byteLength).padStart(7)} B   encode x${BATCH} ${time(() => cams.map(encodeCameraAssignment)).toFixed(3).padStart(7)} ms   decode x${BATCH} ${time(() => camBytes.map((b, i) => decodeCameraAssignment(`cam-${i}`, b))).toFixed(3).padStart(7)} ms`,
);
const jsonSize = JSON.stringify({ ...faceCrop(0, { jpeg: false }), crop: { width: 150, height: 150, data: Buffer.from(faceCrop(0).crop.data).toString('base64') } }).length;
console.log(`for comparison: the 150x150 crop record as JSON with base64: ${jsonSize} B`);
