/**
 * TypeScript views of the wire records of proto.ts. Geometry, quality and crops reuse the embedded-mode types
 * (src/detect/types.ts), the alert is src/alerts/alert.ts's Alert and a camera is the configuration's CameraConfig,
 * so a stage passes decoded records straight to the cores.
 *
 * Bytes are Uint8Array: decoded ones are views into the record's buffer (no copy), so do not reuse or modify that
 * buffer while a decoded record is in use. Embeddings are Float32Array, a view as well when its bytes are 4-byte
 * aligned in the buffer (a copy otherwise).
 */
import type { Alert } from '../alerts/alert';
import type { CameraConfig } from '../config/schema';
import type { AlignedFace, FaceDetection, FaceQuality } from '../detect/types';

/** One stage a record passed: `stage` is a label such as "ingest.detect" (see Stage), `tsMs` ms since the epoch. */
export interface StageStamp {
  stage: string;
  tsMs: number;
}

/** What every face record carries about where the face came from. */
export interface FaceContext {
  /** Camera name (never its URL); the record key. */
  camera: string;
  track: { id: string; firstSeenMs: number };
  /** The analysed frame: its sequence number within the camera's ingest run, time and size (the box refers to it). */
  frame: { seq: number; tsMs: number; width: number; height: number };
  /** Box, detector score and the 5 landmarks, in frame pixels. */
  detection: FaceDetection;
  quality: FaceQuality;
  /** Embedder name (models/descriptors): the crop is aligned for it; on a FaceEmbedding, the one that produced it. */
  model: string;
  /** JPEG of the face region of the source frame (the alert picture). */
  faceJpeg?: Uint8Array;
  /** Stages passed so far, in order (see stampStage). */
  stages: StageStamp[];
}

/** ingest → embed. */
export interface FaceCrop extends FaceContext {
  /** The aligned crop for `model`, BGR uint8 (width * height * 3 bytes). */
  crop: AlignedFace['crop'];
}

/** embed → match. */
export interface FaceEmbedding extends FaceContext {
  /** L2-normalised; its length is the embedding dimension. */
  embedding: Float32Array;
}

/** match → alerts: the webhook alert as built by buildAlert(), plus the stages. */
export interface AlertRecord {
  alert: Alert;
  stages: StageStamp[];
}

/**
 * A camera on the compacted cameras topic (key = name). `url` may hold credentials: never log it (maskUrl()).
 */
export type CameraAssignment = CameraConfig & {
  /** When this assignment was written (ms since the epoch); a consumer keeps the newest. */
  updatedAtMs: number;
};

/** What a cameras-topic record means: a camera added or changed, or (tombstone) removed. */
export type CameraAssignmentUpdate = { name: string; deleted: false; camera: CameraAssignment } | { name: string; deleted: true };

/** A record a stage could not process. */
export interface DeadLetter {
  sourceTopic: string;
  partition: number;
  /** Kafka offset (a decimal string, as kafkajs gives it). */
  offset: string;
  /** Why: SchemaError.reason or another failure's message (never a payload value). */
  reason: string;
  /** The record's value as received; null when it had none. */
  original: Uint8Array | null;
  /** The record's key; null when it had none. */
  originalKey: Uint8Array | null;
  failedAtMs: number;
  /** The service that gave up on it, e.g. "embed". */
  service: string;
}

/**
 * Decoding options. By default decoded bytes (crop, JPEG, embedding) are views into the record's buffer. kafkajs
 * hands out message values that are slices of the whole fetched batch, so a view kept after the message is handled
 * (an embedding kept for a track's life, say) keeps that entire batch buffer in memory: pass `copy: true` to get
 * independent copies when records outlive their handling.
 */
export interface DecodeOptions {
  copy?: boolean;
}

/** Fields 1-5 of any face or alert record, decoded without the payload. */
export interface RecordHeader {
  schemaVersion: number;
  type: 'FaceCrop' | 'FaceEmbedding' | 'AlertRecord';
  camera: string;
  trackId: string;
  stages: StageStamp[];
}
