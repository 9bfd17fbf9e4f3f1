/**
 * The versioned schema of every record passed between facestream's distributed stages (ingest → embed → match →
 * alerts, the cameras topic and dead letters): protobuf, defined once in proto.ts. Encoders validate and throw
 * SchemaError for a record a reader would reject; decoders throw SchemaError (with `reason`) and nothing else, so
 * a consumer can send the original bytes to its dead-letter topic (deadLetterFor).
 */
import type { AlertRecord, CameraAssignment, FaceCrop, FaceEmbedding } from './types';

export { SCHEMA_VERSION, FACESTREAM_PROTO } from './proto';
export { SchemaError, type RecordTypeName } from './errors';
export type {
  AlertRecord,
  CameraAssignment,
  CameraAssignmentUpdate,
  DeadLetter,
  DecodeOptions,
  FaceContext,
  FaceCrop,
  FaceEmbedding,
  RecordHeader,
  StageStamp,
} from './types';
export { encodeFaceCrop, decodeFaceCrop } from './face-crop';
export { encodeFaceEmbedding, decodeFaceEmbedding } from './face-embedding';
export { encodeAlertRecord, decodeAlertRecord } from './alert-record';
export { encodeCameraAssignment, decodeCameraAssignment, cameraAssignmentRecord, cameraTombstone } from './camera-assignment';
export { encodeCameraStatus, decodeCameraStatus, cameraStatusRecord, type CameraStatusRecord } from './camera-status';
export { encodeDeadLetter, decodeDeadLetter, deadLetterFor, deadLetterKey, type FailedRecord } from './dead-letter';
export { decodeRecordHeader } from './header';
export { Stage, stampStage, stageDurations, elapsedMs, type StageDuration } from './stages';
export { MAX_STAGES } from './check';
export {
  faceCropFromAligned,
  faceEmbeddingFromCrop,
  trackFaceFromEmbedding,
  alertInputFromEmbedding,
  type FaceCropOptions,
  type MatchDecision,
} from './convert';

/**
 * The Kafka key of a record: its camera name. The default partitioner hashes the key, so all of one camera's
 * records land in one partition and stay in order.
 */
export function recordKey(msg: FaceCrop | FaceEmbedding | AlertRecord | CameraAssignment): string {
  if ('alert' in msg) return msg.alert.camera;
  if ('camera' in msg) return msg.camera;
  return msg.name;
}
