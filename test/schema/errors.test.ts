import assert from 'node:assert/strict';
import { test } from 'node:test';
import protobuf from 'protobufjs';
import {
  decodeAlertRecord,
  decodeCameraAssignment,
  decodeDeadLetter,
  decodeFaceCrop,
  decodeFaceEmbedding,
  decodeRecordHeader,
  encodeCameraAssignment,
  encodeFaceCrop,
  encodeFaceEmbedding,
  FACESTREAM_PROTO,
  SCHEMA_VERSION,
  SchemaError,
} from '../../src/schema';
import { camera, faceCrop, faceEmbedding, independentRoot, randomBytes, rewrite } from './fixtures';

const DECODERS: Record<string, (b: Uint8Array | null) => unknown> = {
  FaceCrop: decodeFaceCrop,
  FaceEmbedding: decodeFaceEmbedding,
  AlertRecord: decodeAlertRecord,
  DeadLetter: decodeDeadLetter,
  RecordHeader: decodeRecordHeader,
  CameraAssignment: (b) => decodeCameraAssignment('front-door', b ?? new Uint8Array(0)),
};

/** Runs fn, which must throw a SchemaError, and returns it. */
function schemaError(fn: () => unknown): SchemaError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof SchemaError, `expected a SchemaError, got ${(err as Error)?.constructor?.name}: ${(err as Error)?.message}`);
    assert.equal(err.message, `${err.recordType} record rejected: ${err.reason}`);
    return err;
  }
  assert.fail('expected a SchemaError, nothing was thrown');
}

test('every record starts with schema_version 1 (field 1) and its type (field 2)', () => {
  assert.equal(SCHEMA_VERSION, 1);
  const b = encodeFaceCrop(faceCrop());
  assert.deepEqual([...b.subarray(0, 4)], [0x08, SCHEMA_VERSION, 0x10, 1]);
  assert.deepEqual([...encodeFaceEmbedding(faceEmbedding()).subarray(0, 4)], [0x08, SCHEMA_VERSION, 0x10, 2]);
});

test('repeated scalars are packed as declared (one length-delimited field)', () => {
  const b = encodeFaceCrop(faceCrop());
  const r = protobuf.Reader.create(b);
  const seen: [number, number][] = [];
  while (r.pos < r.len) {
    const tag = r.uint32();
    seen.push([tag >>> 3, tag & 7]);
    r.skipType(tag & 7);
  }
  assert.deepStrictEqual(seen.filter(([f]) => f === 12), [[12, 2]]);
  assert.deepStrictEqual(seen.map(([f]) => f).slice(0, 4), [1, 2, 3, 4], 'version, type, camera, track first');
});

test('a record of another schema version is rejected with the version named', () => {
  const b = Buffer.from(encodeFaceCrop(faceCrop()));
  b[1] = 2; // field 1 varint: schema_version
  const e = schemaError(() => decodeFaceCrop(b));
  assert.equal(e.reason, 'unsupported schema version 2 (this reader supports 1)');
  assert.equal(e.recordType, 'FaceCrop');
  const emb = Buffer.from(encodeFaceEmbedding(faceEmbedding()));
  emb[1] = 7;
  assert.match(schemaError(() => decodeFaceEmbedding(emb)).reason, /^unsupported schema version 7 /);
  assert.match(schemaError(() => decodeRecordHeader(emb)).reason, /^unsupported schema version 7 /);
  const noVersion = rewrite(encodeFaceCrop(faceCrop()), 'FaceCrop', (m) => {
    m.schemaVersion = 0;
  });
  assert.match(schemaError(() => decodeFaceCrop(noVersion)).reason, /^missing schema_version/);
});

test('a record of another type is rejected, naming both', () => {
  const emb = encodeFaceEmbedding(faceEmbedding());
  assert.equal(schemaError(() => decodeFaceCrop(emb)).reason, 'expected a FaceCrop record, got a FaceEmbedding record');
  assert.equal(schemaError(() => decodeAlertRecord(emb)).reason, 'expected an AlertRecord record, got a FaceEmbedding record');
  const cam = encodeCameraAssignment(camera());
  assert.match(schemaError(() => decodeRecordHeader(cam)).reason, /got a CameraAssignment record$/);
  assert.match(schemaError(() => decodeDeadLetter(encodeFaceCrop(faceCrop()))).reason, /^expected a DeadLetter record, got a FaceCrop record$/);
});

test('null, empty, JSON and random bytes are SchemaErrors for every decoder, never another error', () => {
  const inputs: Uint8Array[] = [
    new Uint8Array(0),
    Buffer.from('{"camera":"front-door","schemaVersion":1}'),
    Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]),
    Buffer.from([0x08, 0x01, 0x10]),
  ];
  for (let i = 0; i < 300; i++) inputs.push(randomBytes(1 + ((i * 37) % 700), i));
  for (const [name, decode] of Object.entries(DECODERS)) {
    if (name !== 'CameraAssignment') assert.match(schemaError(() => decode(null)).reason, /^no value/);
    for (const b of inputs) schemaError(() => decode(b));
  }
  assert.match(schemaError(() => decodeFaceCrop(new Uint8Array(0))).reason, /^missing schema_version/);
  assert.match(schemaError(() => decodeFaceCrop(randomBytes(40, 7))).reason, /./);
});

test('every truncation of a record is a SchemaError', () => {
  const emb = encodeFaceEmbedding(faceEmbedding(0));
  for (let n = 0; n < emb.byteLength; n++) schemaError(() => decodeFaceEmbedding(emb.subarray(0, n)));
  const crop = encodeFaceCrop(faceCrop(0));
  for (let n = 0; n < crop.byteLength; n += 97) schemaError(() => decodeFaceCrop(crop.subarray(0, n)));
  assert.match(schemaError(() => decodeFaceCrop(crop.subarray(0, crop.byteLength - 1))).reason, /^not a valid protobuf record \(truncated or garbage bytes\): index out of range/);
});

test('a record missing a required field, or with a wrong one, is rejected naming the field', () => {
  const crop = encodeFaceCrop(faceCrop());
  const cases: [string, (m: Record<string, unknown>) => void, RegExp][] = [
    ['empty camera', (m) => (m.camera = ''), /^camera: missing \(expected a camera name/],
    ['URL as camera', (m) => (m.camera = 'rtsp://u:pw@host/x'), /^camera: expected a camera name .*; got a string of 18 characters that is not one \(not shown\)$/],
    ['empty track', (m) => (m.trackId = ''), /^track_id: missing/],
    ['no frame time', (m) => (m.frameTsMs = 0), /^frame_ts_ms: missing/],
    ['no frame size', (m) => (m.frameWidth = 0), /^frame_width: missing; expected an integer 1\.\.65535, got 0$/],
    ['no box', (m) => (m.box = null), /^box: missing$/],
    ['zero-size box', (m) => ((m.box as { width: number }).width = 0), /^box\.width: missing; expected a number > 0/],
    ['8 landmarks', (m) => (m.landmarks = (m.landmarks as number[]).slice(0, 8)), /^landmarks: expected 10 values/],
    ['NaN landmark', (m) => ((m.landmarks as number[])[3] = NaN), /^landmarks\[3\]: expected a finite number, got NaN$/],
    ['score > 1', (m) => (m.detectorScore = 1.5), /^detector_score: expected 0\.\.1, got 1\.5$/],
    ['no quality', (m) => (m.quality = null), /^quality: missing$/],
    ['no model', (m) => (m.model = ''), /^model: missing/],
    ['not a JPEG', (m) => (m.faceJpeg = Buffer.from('PNG....')), /^face_jpeg: expected JPEG bytes/],
    ['no crop', (m) => (m.crop = null), /^crop: missing$/],
    ['short crop', (m) => ((m.crop as { bgr: Uint8Array }).bgr = new Uint8Array(100)), /^crop\.bgr: expected 67500 bytes \(150 x 150 x 3 BGR\), got 100$/],
    ['bad stage', (m) => ((m.stages as { stage: string }[])[1].stage = 'Detect Stage'), /^stages\[1\]\.stage: expected a stage label/],
  ];
  for (const [what, edit, reason] of cases) {
    const e = schemaError(() => decodeFaceCrop(rewrite(crop, 'FaceCrop', edit)));
    assert.match(e.reason, reason, what);
    assert.ok(!e.message.includes('pw@'), 'never shows the value');
  }
  const emb = encodeFaceEmbedding(faceEmbedding());
  assert.match(schemaError(() => decodeFaceEmbedding(rewrite(emb, 'FaceEmbedding', (m) => (m.embeddingDim = 127)))).reason, /^embedding: expected 508 bytes \(embedding_dim 127 x float32\), got 512$/);
  assert.match(schemaError(() => decodeFaceEmbedding(rewrite(emb, 'FaceEmbedding', (m) => (m.embeddingDim = 0)))).reason, /^embedding_dim: missing/);
  assert.match(schemaError(() => decodeFaceEmbedding(rewrite(emb, 'FaceEmbedding', (m) => (m.embedding = new Uint8Array(0))))).reason, /^embedding: missing/);
  const nan = new Uint8Array(new Float32Array([NaN, ...new Float32Array(127)]).buffer);
  assert.match(schemaError(() => decodeFaceEmbedding(rewrite(emb, 'FaceEmbedding', (m) => (m.embedding = nan)))).reason, /^embedding: expected finite values, got NaN at index 0$/);
});

test('encoders refuse what decoders would reject, with the same field names', () => {
  assert.match(schemaError(() => encodeFaceCrop({ ...faceCrop(), camera: '' })).reason, /^camera: missing/);
  const c = faceCrop();
  assert.match(schemaError(() => encodeFaceCrop({ ...c, crop: { ...c.crop, width: 149 } })).reason, /^crop\.bgr: expected 67050 bytes \(149 x 150 x 3 BGR\), got 67500$/);
  assert.match(schemaError(() => encodeFaceCrop({ ...c, quality: { ...c.quality, yaw: NaN } })).reason, /^quality\.yaw: expected a finite number/);
  assert.match(schemaError(() => encodeFaceCrop({ ...c, frame: { ...c.frame, tsMs: 1.5 } })).reason, /^frame_ts_ms: expected ms/);
  assert.match(schemaError(() => encodeFaceCrop({ ...c, faceJpeg: new Uint8Array(0) })).reason, /^face_jpeg: missing/);
  assert.match(schemaError(() => encodeFaceEmbedding({ ...faceEmbedding(), embedding: new Float32Array(0) })).reason, /^embedding_dim: missing; expected an integer 1\.\.8192, got 0$/);
  // A malformed object (a missing nested object) is a SchemaError too, not a TypeError.
  const broken = { ...c, detection: { ...c.detection, landmarks: [c.detection.landmarks[0]] } } as unknown as typeof c;
  assert.match(schemaError(() => encodeFaceCrop(broken)).reason, /^landmarks: expected 5 points, got 1$/);
  const noTrack = { ...c, track: undefined } as unknown as typeof c;
  assert.match(schemaError(() => encodeFaceCrop(noTrack)).reason, /^track: missing$/);
});

test('forward compatibility: fields added by a newer writer are ignored', () => {
  const newer = FACESTREAM_PROTO.replace(
    /(Crop crop = 17;\n)/,
    '$1  string scene_label = 40;\n  repeated double future_scores = 41 [packed = true];\n  Box body_box = 42;\n  bytes thumbnail = 43;\n',
  ).replace(/(uint32 embedding_dim = 18;\n)/, '$1  string pose_model = 19;\n');
  assert.notEqual(newer, FACESTREAM_PROTO);
  const root = independentRoot(newer);
  const m = faceCrop(4);
  const plain = encodeFaceCrop(m);
  const extended = rewrite(
    plain,
    'FaceCrop',
    (w) => {
      w.sceneLabel = 'lobby';
      w.futureScores = [0.1, 0.2, 0.3];
      w.bodyBox = { x: 1, y: 2, width: 3, height: 4 };
      w.thumbnail = randomBytes(200, 3);
    },
    root,
  );
  assert.ok(extended.byteLength > plain.byteLength + 200, 'the extra fields are on the wire');
  const d = decodeFaceCrop(extended);
  assert.deepStrictEqual({ ...d, crop: null, faceJpeg: null }, { ...decodeFaceCrop(plain), crop: null, faceJpeg: null });
  assert.ok(Buffer.from(d.crop.data).equals(Buffer.from(m.crop.data)));
  assert.equal('sceneLabel' in d, false);
  const emb = rewrite(encodeFaceEmbedding(faceEmbedding(1)), 'FaceEmbedding', (w) => (w.poseModel = 'x'), root);
  assert.deepStrictEqual(decodeFaceEmbedding(emb).embedding, faceEmbedding(1).embedding);
});
