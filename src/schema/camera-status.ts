/**
 * CameraStatus: the compacted camera-status topic. Key = camera name; value = what the ingest process running the
 * camera last saw (state, measured fps, last frame, last error with credentials scrubbed), republished every few
 * seconds and on every change, and a last `stopped` one when the process stops running it (a null value, should a
tool write one, clears the entry). The management API
 * reads the topic to answer GET /cameras/:name/status in distributed mode.
 */
import { Check } from './check';
import { decodeWire, encodeWire, guardEncode, int64ToNumber, type WireInt64 } from './codec';

export const CAMERA_STATUS_STATES = ['connecting', 'online', 'offline', 'ended', 'stopped', 'idle'] as const;
export type CameraStatusState = (typeof CAMERA_STATUS_STATES)[number];

export interface CameraStatusRecord {
  name: string;
  state: CameraStatusState;
  fps: number;
  /** ms since the epoch, or null before the first frame. */
  lastFrameAtMs: number | null;
  lastError: string | null;
  frames: number;
  reconnects: number;
  updatedAtMs: number;
  /** The ingest process that reported it. */
  reporter: string;
}

interface WireCameraStatus {
  name: string;
  state: string;
  fps: number;
  lastFrameAtMs: WireInt64;
  lastError: string;
  frames: WireInt64;
  reconnects: number;
  updatedAtMs: WireInt64;
  reporter: string;
}

const MAX_ERROR = 2000;

function check(c: Check, s: CameraStatusRecord): CameraStatusRecord {
  const state = c.text('state', s.state, 32);
  if (!(CAMERA_STATUS_STATES as readonly string[]).includes(state)) c.fail('state', `expected one of ${CAMERA_STATUS_STATES.join(', ')}`);
  return {
    name: c.camera('name', s.name),
    state: state as CameraStatusState,
    fps: c.range('fps', s.fps, 0, 1000),
    lastFrameAtMs: s.lastFrameAtMs === null || s.lastFrameAtMs === 0 ? null : c.ms('last_frame_at_ms', s.lastFrameAtMs),
    lastError: s.lastError === null || s.lastError === '' ? null : c.text('last_error', s.lastError, MAX_ERROR),
    frames: c.int('frames', s.frames, 0, Number.MAX_SAFE_INTEGER),
    reconnects: c.int('reconnects', s.reconnects, 0, 0xffffffff),
    updatedAtMs: c.ms('updated_at_ms', s.updatedAtMs),
    reporter: c.text('reporter', s.reporter, 200),
  };
}

/** Validates and encodes a status (throws SchemaError naming the field). */
export function encodeCameraStatus(s: CameraStatusRecord): Buffer {
  const c = new Check('CameraStatus');
  return guardEncode(c, () => {
    const v = check(c, { ...s, lastError: s.lastError === null ? null : s.lastError.slice(0, MAX_ERROR) });
    const wire: WireCameraStatus = { ...v, lastFrameAtMs: v.lastFrameAtMs ?? 0, lastError: v.lastError ?? '' };
    return encodeWire('CameraStatus', wire);
  });
}

/** The Kafka record (key, value) of a status. */
export function cameraStatusRecord(s: CameraStatusRecord): { key: string; value: Buffer } {
  return { key: s.name, value: encodeCameraStatus(s) };
}

/** Decodes a camera-status record: null for a tombstone. Throws only SchemaError. */
export function decodeCameraStatus(key: string | Uint8Array | null | undefined, value: Uint8Array | null | undefined): { name: string; status: CameraStatusRecord | null } {
  const c: Check = new Check('CameraStatus');
  if (key === null || key === undefined) c.fail('key', 'missing (the camera-status topic is keyed by camera name)');
  const name = c.camera('key', typeof key === 'string' ? key : Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString('utf8'));
  if (value === null || value === undefined) return { name, status: null };
  const status = decodeWire('CameraStatus', value, (w: WireCameraStatus) =>
    check(c, {
      name: w.name,
      state: w.state as CameraStatusState,
      fps: w.fps,
      lastFrameAtMs: int64ToNumber(w.lastFrameAtMs),
      lastError: w.lastError,
      frames: int64ToNumber(w.frames),
      reconnects: w.reconnects,
      updatedAtMs: int64ToNumber(w.updatedAtMs),
      reporter: w.reporter,
    }),
  );
  if (status.name !== name) c.fail('name', 'differs from the record key');
  return { name, status };
}
