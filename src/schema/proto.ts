/**
 * The wire schema of every record passed between facestream's distributed stages over Kafka — the ONE source of
 * truth. It is parsed at load by protobufjs (codec.ts); nothing is generated at build time. A consumer in another
 * language gets the same text with
 *   node -e "process.stdout.write(require('./dist/src/schema/proto').FACESTREAM_PROTO)" > facestream.proto
 *
 * Topics, records and keys (the key is the camera name, so one camera's records stay in one partition, in order):
 *   ingest → embed   FaceCrop          key = camera
 *   embed  → match   FaceEmbedding     key = camera
 *   match  → alerts  AlertRecord       key = camera
 *   cameras          CameraAssignment  key = camera name; compacted; a null value (tombstone) deletes the camera
 *   camera-status    CameraStatus      key = camera name; compacted; written by the ingest process running it
 *   *.dead-letter    DeadLetter        key = the original record's key
 *
 * VERSIONING. Every record starts with schema_version (field 1) and its record type (field 2). Adding a field is
 * NOT a version change: readers ignore fields they do not know, so a newer writer's extra fields are harmless, and
 * a field a reader knows but an older writer did not send reads as its zero value. SCHEMA_VERSION is raised only
 * for a breaking change (a field's meaning or type changes, or a field becomes required); readers reject any
 * version they do not support, with a SchemaError, and the record goes to the dead-letter topic. Field numbers
 * are never reused.
 *
 * Fields 1-5 are the same in every face/alert record (a RecordHeader decodes them from any of those records).
 * Timestamps are milliseconds since the Unix epoch (UTC). Floats are 32-bit: geometry and scores round-trip as
 * Math.fround(value). "Required" below is enforced by the codec (proto3 has no required fields), with a
 * SchemaError naming the field.
 *
 * SECURITY. FaceCrop, FaceEmbedding and AlertRecord carry biometric data (face pictures, embeddings) and
 * CameraAssignment.url may carry credentials: all of these topics must be access-controlled (Kafka ACLs; TLS),
 * and none of these payloads is ever logged.
 */

/** The schema_version writers stamp, and the only one readers accept. */
export const SCHEMA_VERSION = 1;

export const FACESTREAM_PROTO = `
syntax = "proto3";
package facestream.v1;

// Schema version written by this file: ${SCHEMA_VERSION}.

enum RecordType {
  RECORD_TYPE_UNSPECIFIED = 0;
  FACE_CROP = 1;
  FACE_EMBEDDING = 2;
  ALERT_RECORD = 3;
  CAMERA_ASSIGNMENT = 4;
  DEAD_LETTER = 5;
  CAMERA_STATUS = 6;
}

// What every record starts with, whatever its type: readers check these two before decoding the rest.
message VersionHeader {
  uint32 schema_version = 1;
  RecordType type = 2;
}

// One stage a record passed, in order. stage: a label such as "ingest.detect" (lower case, [a-z0-9_.-]).
message StageStamp {
  string stage = 1;
  int64 ts_ms = 2;
}

// Face box in frame pixels (top-left corner, size).
message Box {
  float x = 1;
  float y = 2;
  float width = 3;
  float height = 4;
}

message Quality {
  float score = 1;        // 0..1, for ranking a track's crops
  float blur = 2;         // variance of the Laplacian of the grey aligned crop
  float yaw = 3;          // degrees
  float pitch = 4;
  float roll = 5;
  float face_size = 6;    // min(box width, height), source pixels
  float eye_distance = 7; // source pixels
}

// Aligned crop, BGR uint8 interleaved, row-major: bgr has exactly width * height * 3 bytes.
message Crop {
  uint32 width = 1;
  uint32 height = 2;
  bytes bgr = 3;
}

// The fields every face/alert record shares (numbers 1-5). Decodes the header of any of them.
message RecordHeader {
  uint32 schema_version = 1;
  RecordType type = 2;
  string camera = 3;
  string track_id = 4;
  repeated StageStamp stages = 5;
}

// ingest → embed: one aligned face of a track. Required: camera, track_id, frame_width/height, box, landmarks
// (exactly 10: x0 y0 … x4 y4 in the order of src/detect/types.ts Landmarks5), quality, model, crop.
message FaceCrop {
  uint32 schema_version = 1;
  RecordType type = 2;                // FACE_CROP
  string camera = 3;                  // camera name (never its URL)
  string track_id = 4;
  repeated StageStamp stages = 5;
  int64 track_first_seen_ms = 6;
  int64 frame_seq = 7;                // frame number within the camera's current ingest run, from 1
  int64 frame_ts_ms = 8;
  uint32 frame_width = 9;             // size of the analysed frame the box refers to
  uint32 frame_height = 10;
  Box box = 11;
  repeated float landmarks = 12 [packed = true];
  float detector_score = 13;          // 0..1
  Quality quality = 14;
  string model = 15;                  // embedder the crop is aligned for (models/descriptors/<model>.json)
  optional bytes face_jpeg = 16;      // JPEG of the face region of the source frame, for the alert picture
  Crop crop = 17;
}

// embed → match: FaceCrop fields 1-16 unchanged (model = the embedder that produced the embedding), the crop
// replaced by the embedding: embedding_dim little-endian float32 values (4 * embedding_dim bytes), L2-normalised.
message FaceEmbedding {
  uint32 schema_version = 1;
  RecordType type = 2;                // FACE_EMBEDDING
  string camera = 3;
  string track_id = 4;
  repeated StageStamp stages = 5;
  int64 track_first_seen_ms = 6;
  int64 frame_seq = 7;
  int64 frame_ts_ms = 8;
  uint32 frame_width = 9;
  uint32 frame_height = 10;
  Box box = 11;
  repeated float landmarks = 12 [packed = true];
  float detector_score = 13;
  Quality quality = 14;
  string model = 15;
  optional bytes face_jpeg = 16;
  bytes embedding = 17;
  uint32 embedding_dim = 18;
}

// Alert box in frame pixels, in doubles so that an alert round-trips exactly.
message AlertBox {
  double x = 1;
  double y = 2;
  double width = 3;
  double height = 4;
}

// match → alerts: the webhook alert of src/alerts/alert.ts (AlertSchema; its base64 faceJpeg carried as bytes,
// its ISO times as ms) plus the stages. All fields required except watchlists (may be empty).
message AlertRecord {
  uint32 schema_version = 1;
  RecordType type = 2;                // ALERT_RECORD
  string camera = 3;
  string track_id = 4;
  repeated StageStamp stages = 5;
  uint32 alert_schema_version = 6;    // the Alert's own schemaVersion (ALERT_SCHEMA_VERSION)
  string id = 7;                      // the alert id (UUIDv5, see alertId())
  string identity_id = 8;
  string identity_name = 9;
  repeated string watchlists = 10;
  double svm_score = 11;
  double distance = 12;
  double detector_score = 13;
  int64 first_seen_ms = 14;
  int64 last_seen_ms = 15;
  AlertBox box = 16;
  uint32 frame_width = 17;
  uint32 frame_height = 18;
  bytes face_jpeg = 19;
  int64 created_at_ms = 20;
}

// The compacted "cameras" topic: key = name; a null value (tombstone) removes the camera. Values follow the
// camera entry of the configuration (src/config/schema.ts CameraSchema).
// url MAY HOLD CREDENTIALS (rtsp://user:password@host/...): the topic must be access-controlled, and url is never
// logged, put in a metric label or an error message (show maskUrl(url) instead).
message CameraAssignment {
  uint32 schema_version = 1;
  RecordType type = 2;                // CAMERA_ASSIGNMENT
  string name = 3;                    // equals the record key
  string url = 4;
  double fps = 5;
  uint32 max_width = 6;
  string transport = 7;               // "tcp" | "udp"
  bool enabled = 8;
  string hwaccel = 9;                 // "none" | "auto" | "cuda" | "vaapi" | "qsv" | "videotoolbox"
  int64 updated_at_ms = 10;
}

// The status of a camera as the ingest process running it last saw it (the compacted camera-status topic, key =
// camera name). Never holds the URL; last_error has credentials scrubbed.
message CameraStatus {
  uint32 schema_version = 1;
  RecordType type = 2;                // CAMERA_STATUS
  string name = 3;                    // equals the record key
  string state = 4;                   // "connecting" | "online" | "offline" | "ended" | "stopped"
  double fps = 5;                     // frames per second decoded over the last seconds
  int64 last_frame_at_ms = 6;         // 0 = no frame yet
  string last_error = 7;              // "" = none
  uint64 frames = 8;
  uint32 reconnects = 9;
  int64 updated_at_ms = 10;
  string reporter = 11;               // the ingest process (its instance id)
}

// A record a stage could not process, with the original bytes, for inspection and replay.
message DeadLetter {
  uint32 schema_version = 1;
  RecordType type = 2;                // DEAD_LETTER
  string source_topic = 3;
  int32 partition = 4;
  int64 offset = 5;
  string reason = 6;                  // SchemaError.reason, or another processing failure
  optional bytes original = 7;        // the record's value; absent for a null value
  optional bytes original_key = 8;
  int64 failed_at_ms = 9;
  string service = 10;                // e.g. "embed"
}
`;
