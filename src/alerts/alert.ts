/**
 * The alert record: what facestream POSTs to a webhook when a track is matched to a watch-listed identity,
 * and what the spool stores on disk. One schema (zod) gives both the TypeScript type and the check a
 * receiver — or the spool, reading a file back — runs on it.
 *
 * The record holds a face crop (biometric data): it is written to disk only with mode 0600 (see spool.ts)
 * and is never logged. It names the camera by NAME only, never by URL (URLs can carry credentials).
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { CAMERA_NAME_PATTERN } from '../config/names';

export const ALERT_SCHEMA_VERSION = 1 as const;
/** The Standard Webhooks event type of an alert (full-stop delimited, as the spec recommends). */
export const ALERT_TYPE = 'face.match' as const;

/** A UUID (any version); alert ids are UUIDv5 (see alertId()). Contains no '.', as webhook-id must not. */
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** JPEG data starts FF D8 FF, which is "/9j/" in base64. */
const BASE64_JPEG = /^\/9j\/[A-Za-z0-9+/]*={0,2}$/;

const IsoTime = z.iso.datetime({ offset: true });

export const AlertSchema = z.strictObject({
  schemaVersion: z.literal(ALERT_SCHEMA_VERSION),
  type: z.literal(ALERT_TYPE),
  /** Deterministic: the same decision (camera, track, identity) always gets the same id; see alertId(). */
  id: z.string().regex(UUID, 'expected a UUID'),
  /** Camera name (never its URL). */
  camera: z.string().regex(CAMERA_NAME_PATTERN, 'expected a camera name, not a URL'),
  identity: z.strictObject({ id: z.string().min(1), name: z.string() }),
  /** Names of the watch-lists the identity is on. */
  watchlists: z.array(z.string().min(1)),
  scores: z.strictObject({
    /** Decision value of the identity's SVM (higher = more confident). */
    svm: z.number(),
    /** Distance from the probe embedding to the identity's nearest enrolled embedding. */
    distance: z.number().min(0),
    /** Face detector confidence 0..1 of the crop sent. */
    detector: z.number().min(0).max(1),
  }),
  /** Track id within the camera (unique within one process run; see alertId() for cross-restart safety). */
  trackId: z.string().min(1),
  /** When the track was first / last seen (ISO 8601). */
  firstSeen: IsoTime,
  lastSeen: IsoTime,
  /** Face box in frame pixels. */
  box: z.strictObject({ x: z.number(), y: z.number(), width: z.number().positive(), height: z.number().positive() }),
  /** Size of the analysed frame the box refers to. */
  frameSize: z.strictObject({ width: z.number().int().positive(), height: z.number().int().positive() }),
  /** Base64 JPEG of the face crop. */
  faceJpeg: z.string().regex(BASE64_JPEG, 'expected a base64 JPEG'),
  createdAt: IsoTime,
});

export type Alert = z.infer<typeof AlertSchema>;

/** Fixed namespace UUID of facestream alert ids (UUIDv5, RFC 9562 §5.5). */
const ALERT_ID_NAMESPACE = '8f7d5561-8abf-4f81-9999-6a815ca78b6f';

export interface AlertIdParts {
  camera: string;
  trackId: string | number;
  identityId: string;
  /**
   * When the track started (ms since epoch or Date). Track ids restart when the process restarts, so the
   * track's start time is part of the key: track 1 of today's run must not share an id with track 1 of
   * yesterday's (a receiver that de-duplicates by webhook-id would drop the new alert).
   */
  trackStartedAt: number | Date;
}

/**
 * UUIDv5 of (camera, track id, identity id, track start): stable, so a re-send of the same decision (a
 * retry, a restart that re-spools it) carries the same id, which both the spool and receivers use for
 * de-duplication.
 */
export function alertId(parts: AlertIdParts): string {
  const name = JSON.stringify([parts.camera, String(parts.trackId), parts.identityId, toMs(parts.trackStartedAt)]);
  const ns = Buffer.from(ALERT_ID_NAMESPACE.replace(/-/g, ''), 'hex');
  const hash = createHash('sha1').update(ns).update(name, 'utf8').digest();
  const b = Buffer.from(hash.subarray(0, 16));
  b[6] = (b[6] & 0x0f) | 0x50; // version 5
  b[8] = (b[8] & 0x3f) | 0x80; // RFC 4122/9562 variant
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

export interface AlertInput {
  camera: string;
  identity: { id: string; name: string };
  watchlists: readonly string[];
  scores: { svm: number; distance: number; detector: number };
  trackId: string | number;
  /** Track first / last seen, ms since epoch or Date. */
  firstSeen: number | Date;
  lastSeen: number | Date;
  box: { x: number; y: number; width: number; height: number };
  frameSize: { width: number; height: number };
  /** Encoded JPEG bytes of the face crop. */
  faceJpeg: Uint8Array;
}

/** Builds and validates an alert (throws a ZodError naming the bad field if the input is malformed). */
export function buildAlert(input: AlertInput, now: Date = new Date()): Alert {
  const alert: Alert = {
    schemaVersion: ALERT_SCHEMA_VERSION,
    type: ALERT_TYPE,
    id: alertId({
      camera: input.camera,
      trackId: input.trackId,
      identityId: input.identity.id,
      trackStartedAt: input.firstSeen,
    }),
    camera: input.camera,
    identity: { id: input.identity.id, name: input.identity.name },
    watchlists: [...input.watchlists],
    scores: { svm: input.scores.svm, distance: input.scores.distance, detector: input.scores.detector },
    trackId: String(input.trackId),
    firstSeen: new Date(toMs(input.firstSeen)).toISOString(),
    lastSeen: new Date(toMs(input.lastSeen)).toISOString(),
    box: { x: input.box.x, y: input.box.y, width: input.box.width, height: input.box.height },
    frameSize: { width: input.frameSize.width, height: input.frameSize.height },
    faceJpeg: Buffer.from(input.faceJpeg.buffer, input.faceJpeg.byteOffset, input.faceJpeg.byteLength).toString('base64'),
    createdAt: now.toISOString(),
  };
  return AlertSchema.parse(alert);
}

function toMs(t: number | Date): number {
  return typeof t === 'number' ? t : t.getTime();
}
