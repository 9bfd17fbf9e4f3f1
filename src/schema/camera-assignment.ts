/**
 * CameraAssignment: the compacted cameras topic. Key = camera name; value = the camera's configuration (checked
 * with the configuration's own CameraSchema) and when it was written; a null value (tombstone) removes the camera.
 *
 * The url may hold credentials: the topic must be access-controlled (Kafka ACLs, TLS), and the url never appears
 * in a log line, metric label or error message — including this module's SchemaErrors, which name the field only.
 */
import { CameraSchema } from '../config/schema';
import { Check } from './check';
import { decodeWire, encodeWire, guardEncode, int64ToNumber, type WireInt64 } from './codec';
import type { CameraAssignment, CameraAssignmentUpdate } from './types';

interface WireCameraAssignment {
  name: string;
  url: string;
  fps: number;
  maxWidth: number;
  transport: string;
  enabled: boolean;
  hwaccel: string;
  updatedAtMs: WireInt64;
}

/** Wire field names of CameraSchema's keys, for error messages. */
const WIRE_NAME: Record<string, string> = { maxWidth: 'max_width' };

function checkCamera(c: Check, input: Omit<CameraAssignment, 'updatedAtMs'>): Omit<CameraAssignment, 'updatedAtMs'> {
  c.camera('name', input.name);
  const r = CameraSchema.safeParse(input);
  if (!r.success) {
    const issue = r.error.issues[0];
    const key = String(issue.path[0] ?? 'record');
    c.fail(WIRE_NAME[key] ?? key, issue.message);
  }
  return r.data;
}

/** Validates and encodes a camera's value (throws SchemaError naming the field, never showing the url). */
export function encodeCameraAssignment(a: CameraAssignment): Buffer {
  const c = new Check('CameraAssignment');
  return guardEncode(c, () => {
    const cam = checkCamera(c, {
      name: a.name,
      url: a.url,
      fps: a.fps,
      maxWidth: a.maxWidth,
      transport: a.transport,
      enabled: a.enabled,
      hwaccel: a.hwaccel,
    });
    const wire: WireCameraAssignment = { ...cam, updatedAtMs: c.ms('updated_at_ms', a.updatedAtMs) };
    return encodeWire('CameraAssignment', wire);
  });
}

/** The Kafka record (key, value) that sets a camera. */
export function cameraAssignmentRecord(a: CameraAssignment): { key: string; value: Buffer } {
  const value = encodeCameraAssignment(a);
  return { key: a.name, value };
}

/** The Kafka record that removes a camera: its name with a null value (compaction then drops the key). */
export function cameraTombstone(name: string): { key: string; value: null } {
  new Check('CameraAssignment').camera('key', name);
  return { key: name, value: null };
}

/**
 * Decodes a cameras-topic record: a null value is a tombstone (the camera is removed); otherwise the value is
 * checked and its name must equal the key. Throws only SchemaError.
 */
export function decodeCameraAssignment(key: string | Uint8Array | null | undefined, value: Uint8Array | null | undefined): CameraAssignmentUpdate {
  const c: Check = new Check('CameraAssignment');
  if (key === null || key === undefined) c.fail('key', 'missing (the cameras topic is keyed by camera name)');
  const name = c.camera('key', typeof key === 'string' ? key : Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString('utf8'));
  if (value === null || value === undefined) return { name, deleted: true };
  const camera = decodeWire('CameraAssignment', value, (w: WireCameraAssignment) => {
    const cam = checkCamera(c, {
      name: w.name,
      url: w.url,
      fps: w.fps,
      maxWidth: w.maxWidth,
      transport: w.transport as CameraAssignment['transport'],
      enabled: w.enabled,
      hwaccel: w.hwaccel as CameraAssignment['hwaccel'],
    });
    return { ...cam, updatedAtMs: c.ms('updated_at_ms', int64ToNumber(w.updatedAtMs)) };
  });
  if (camera.name !== name) c.fail('name', 'differs from the record key (a value must be stored under its own camera name)');
  return { name, deleted: false, camera };
}
