/** Test records for the schema tests: deterministic pseudo-random crops and embeddings, real buildAlert() alerts. */
import protobuf from 'protobufjs';
import { rng32 } from '../../src/match/svm';
import { type Alert, buildAlert } from '../../src/alerts/alert';
import type { AlignedFace, FaceDetection, FaceQuality } from '../../src/detect/types';
import { FACESTREAM_PROTO } from '../../src/schema';
import type { CameraAssignment, FaceCrop, FaceEmbedding, StageStamp } from '../../src/schema';

/** A small JPEG-framed payload standing in for a face picture. */
export const FAKE_JPEG = Uint8Array.from([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0x00, 0x01, 0x07, 0x42, 0xff, 0xd9]);

export const T0 = Date.UTC(2025, 4, 6, 12, 0, 0);

/** A small seeded PRNG (the SVM's mulberry32) in [0, 1), so failures reproduce. */
export function prng(seed: number): () => number {
  const next = rng32(seed);
  return () => next() / 4294967296;
}

export function randomBytes(n: number, seed: number): Uint8Array {
  const r = prng(seed);
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.floor(r() * 256);
  return out;
}

/** A unit-length embedding with non-trivial float32 values. */
export function randomEmbedding(dim: number, seed: number): Float32Array {
  const r = prng(seed);
  const e = new Float32Array(dim);
  let s = 0;
  for (let i = 0; i < dim; i++) {
    e[i] = r() * 2 - 1;
    s += e[i] * e[i];
  }
  const k = 1 / Math.sqrt(s);
  for (let i = 0; i < dim; i++) e[i] *= k;
  return e;
}

/** Values chosen not to be exact float32s (e.g. 100.1), so float32 rounding is visible in the tests. */
export function detection(n = 0): FaceDetection {
  const x = 100.1 + n;
  const y = 50.3;
  return {
    box: { x, y, width: 80.7, height: 96.2 },
    score: 0.9731,
    landmarks: [
      { x: x + 24.1, y: y + 38.5 },
      { x: x + 56.3, y: y + 38.7 },
      { x: x + 40.2, y: y + 57.9 },
      { x: x + 28.4, y: y + 76.6 },
      { x: x + 52.8, y: y + 76.4 },
    ],
  };
}

export function quality(): FaceQuality {
  return { eyeDistance: 32.2, faceSize: 80.7, blur: 143.37, yaw: -3.7, pitch: 5.1, roll: 0.4, score: 0.811 };
}

export function stages(): StageStamp[] {
  return [
    { stage: 'ingest.decode', tsMs: T0 },
    { stage: 'ingest.detect', tsMs: T0 + 31 },
    { stage: 'ingest.align', tsMs: T0 + 34 },
  ];
}

export function alignedFace(n = 0, side = 150): AlignedFace {
  return { detection: detection(n), quality: quality(), crop: { width: side, height: side, data: randomBytes(side * side * 3, 1000 + n) } };
}

export function faceCrop(n = 0, opts: { side?: number; jpeg?: boolean } = {}): FaceCrop {
  const face = alignedFace(n, opts.side ?? 150);
  const crop: FaceCrop = {
    camera: 'front-door',
    track: { id: `front-door-${n + 1}`, firstSeenMs: T0 - 800 },
    frame: { seq: 1234 + n, tsMs: T0, width: 1280, height: 720 },
    detection: face.detection,
    quality: face.quality,
    model: 'faceapi-resnet128',
    stages: stages(),
    crop: face.crop,
  };
  if (opts.jpeg !== false) crop.faceJpeg = FAKE_JPEG;
  return crop;
}

export function faceEmbedding(n = 0, opts: { dim?: number; jpeg?: boolean } = {}): FaceEmbedding {
  const { crop: _c, ...context } = faceCrop(n, { side: 2, jpeg: opts.jpeg });
  return { ...context, embedding: randomEmbedding(opts.dim ?? 128, 2000 + n) };
}

export function alert(n = 0): Alert {
  return buildAlert(
    {
      camera: 'front-door',
      identity: { id: `person-${n}`, name: `Person ${n}` },
      watchlists: ['staff-banned', 'vip'],
      scores: { svm: 0.8123456789, distance: 0.4211, detector: 0.9731 },
      trackId: `front-door-${n + 1}`,
      firstSeen: T0 - 800,
      lastSeen: T0,
      box: { x: 100.1, y: 50.3, width: 80.7, height: 96.2 },
      frameSize: { width: 1280, height: 720 },
      faceJpeg: FAKE_JPEG,
    },
    new Date(T0 + 45),
  );
}

export function camera(overrides: Partial<CameraAssignment> = {}): CameraAssignment {
  return {
    name: 'front-door',
    url: 'rtsp://admin:s3cr3t-pw@10.0.0.7:554/stream1',
    fps: 7.5,
    maxWidth: 1280,
    transport: 'tcp',
    enabled: true,
    hwaccel: 'none',
    updatedAtMs: T0,
    ...overrides,
  };
}

/** The expected decoded value of a float written as float32. */
export const f32 = Math.fround;

/** The published schema text parsed independently, as another writer (another language) would. */
export function independentRoot(protoText: string = FACESTREAM_PROTO): protobuf.Root {
  const root = protobuf.parse(protoText).root;
  root.resolveAll();
  return root;
}

let cachedRoot: protobuf.Root | undefined;

/** Re-encodes `bytes` (a record of message `type`) after `edit` changed its decoded fields (a hostile/buggy writer). */
export function rewrite(bytes: Uint8Array, type: string, edit: (m: Record<string, unknown>) => void, root = (cachedRoot ??= independentRoot())): Uint8Array {
  const t = root.lookupType(`facestream.v1.${type}`);
  const m = t.decode(bytes) as unknown as Record<string, unknown>;
  edit(m);
  return t.encode(m).finish();
}
