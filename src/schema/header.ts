/**
 * The header of any face or alert record (fields 1-5: version, type, camera, track, stages), decoded without its
 * payload: for a latency monitor reading every topic, or for routing. Skipping the payload costs no copy.
 */
import { Check } from './check';
import { decodeWire, int64ToNumber, RECORD_TYPE } from './codec';
import type { WireStage } from './face-context';
import type { RecordHeader } from './types';

const HEADER_TYPES = [RECORD_TYPE.FaceCrop, RECORD_TYPE.FaceEmbedding, RECORD_TYPE.AlertRecord] as const;
const NAMES: Record<number, RecordHeader['type']> = {
  [RECORD_TYPE.FaceCrop]: 'FaceCrop',
  [RECORD_TYPE.FaceEmbedding]: 'FaceEmbedding',
  [RECORD_TYPE.AlertRecord]: 'AlertRecord',
};

interface WireHeader {
  schemaVersion: number;
  type: number;
  camera: string;
  trackId: string;
  stages: WireStage[];
}

/** Decodes the header of a FaceCrop, FaceEmbedding or AlertRecord; throws only SchemaError. */
export function decodeRecordHeader(bytes: Uint8Array | null | undefined): RecordHeader {
  return decodeWire(
    'RecordHeader',
    bytes,
    (w: WireHeader) => {
      const c = new Check('RecordHeader');
      return {
        schemaVersion: w.schemaVersion,
        type: NAMES[w.type],
        camera: c.camera('camera', w.camera),
        trackId: c.text('track_id', w.trackId),
        stages: c.stages('stages', w.stages.map((s) => ({ stage: s.stage, tsMs: int64ToNumber(s.tsMs) }))),
      };
    },
    HEADER_TYPES,
  );
}
