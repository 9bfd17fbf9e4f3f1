/**
 * AlertRecord (match → alerts): the webhook alert (src/alerts/alert.ts) with its face JPEG as bytes instead of
 * base64 and its times as ms, plus the stages. Checked with AlertSchema both ways, so what the alerts stage gets
 * is exactly what buildAlert() would accept. Times come back in toISOString() form (UTC, ms precision).
 */
import { ALERT_SCHEMA_VERSION, ALERT_TYPE, type Alert, AlertSchema } from '../alerts/alert';
import { Check } from './check';
import { decodeWire, encodeWire, guardEncode, int64ToNumber, type WireInt64 } from './codec';
import type { WireStage } from './face-context';
import type { AlertRecord } from './types';

interface WireAlertRecord {
  camera: string;
  trackId: string;
  stages: WireStage[];
  alertSchemaVersion: number;
  id: string;
  identityId: string;
  identityName: string;
  watchlists: string[];
  svmScore: number;
  distance: number;
  detectorScore: number;
  firstSeenMs: WireInt64;
  lastSeenMs: WireInt64;
  box: { x: number; y: number; width: number; height: number } | null;
  frameWidth: number;
  frameHeight: number;
  faceJpeg: Uint8Array;
  createdAtMs: WireInt64;
}

function checkAlert(c: Check, alert: unknown): Alert {
  const r = AlertSchema.safeParse(alert);
  if (!r.success) {
    const issue = r.error.issues[0];
    c.fail(['alert', ...issue.path.map(String)].join('.'), issue.message);
  }
  return r.data;
}

function isoToMs(c: Check, field: string, iso: string): number {
  return c.ms(field, Date.parse(iso));
}

/** Validates (AlertSchema) and encodes; throws SchemaError naming the field when the record is not valid. */
export function encodeAlertRecord(r: AlertRecord): Buffer {
  const c = new Check('AlertRecord');
  return guardEncode(c, () => {
    const alert = c.present('alert', r.alert);
    c.camera('camera', alert.camera);
    const a = checkAlert(c, alert);
    const wire: WireAlertRecord = {
      camera: a.camera,
      trackId: a.trackId,
      stages: c.stages('stages', r.stages),
      alertSchemaVersion: a.schemaVersion,
      id: a.id,
      identityId: a.identity.id,
      identityName: a.identity.name,
      watchlists: a.watchlists,
      svmScore: a.scores.svm,
      distance: a.scores.distance,
      detectorScore: a.scores.detector,
      firstSeenMs: isoToMs(c, 'alert.firstSeen', a.firstSeen),
      lastSeenMs: isoToMs(c, 'alert.lastSeen', a.lastSeen),
      box: a.box,
      frameWidth: a.frameSize.width,
      frameHeight: a.frameSize.height,
      faceJpeg: Buffer.from(a.faceJpeg, 'base64'),
      createdAtMs: isoToMs(c, 'alert.createdAt', a.createdAt),
    };
    return encodeWire('AlertRecord', wire);
  });
}

/** Decodes and validates (AlertSchema); throws only SchemaError. */
export function decodeAlertRecord(bytes: Uint8Array | null | undefined): AlertRecord {
  return decodeWire('AlertRecord', bytes, (w: WireAlertRecord) => {
    const c = new Check('AlertRecord');
    c.camera('camera', w.camera);
    if (w.alertSchemaVersion !== ALERT_SCHEMA_VERSION) {
      c.fail('alert_schema_version', `unsupported alert schema version ${w.alertSchemaVersion} (this reader supports ${ALERT_SCHEMA_VERSION})`);
    }
    const stages = c.stages('stages', w.stages.map((s) => ({ stage: s.stage, tsMs: int64ToNumber(s.tsMs) })));
    const box = c.present('box', w.box);
    const jpeg = c.jpeg('face_jpeg', w.faceJpeg);
    const iso = (field: string, v: WireInt64) => new Date(c.ms(field, int64ToNumber(v))).toISOString();
    const alert = checkAlert(c, {
      schemaVersion: ALERT_SCHEMA_VERSION,
      type: ALERT_TYPE,
      id: w.id,
      camera: w.camera,
      identity: { id: w.identityId, name: w.identityName },
      watchlists: [...w.watchlists],
      scores: { svm: w.svmScore, distance: w.distance, detector: w.detectorScore },
      trackId: w.trackId,
      firstSeen: iso('first_seen_ms', w.firstSeenMs),
      lastSeen: iso('last_seen_ms', w.lastSeenMs),
      box: { x: box.x, y: box.y, width: box.width, height: box.height },
      frameSize: { width: w.frameWidth, height: w.frameHeight },
      faceJpeg: Buffer.from(jpeg.buffer, jpeg.byteOffset, jpeg.byteLength).toString('base64'),
      createdAt: iso('created_at_ms', w.createdAtMs),
    });
    return { alert, stages };
  });
}
