/**
 * The one error the schema codec throws. Consumers catch it to route the original bytes to the dead-letter topic
 * with `reason`; decoding never throws anything else. Messages name the record type and the field, never a
 * field's value (values can be URLs with credentials or biometric data).
 */
export type RecordTypeName = 'FaceCrop' | 'FaceEmbedding' | 'AlertRecord' | 'CameraAssignment' | 'CameraStatus' | 'DeadLetter' | 'RecordHeader';

export class SchemaError extends Error {
  /**
   * @param recordType the record being encoded or decoded
   * @param reason what is wrong and what was expected, e.g. "unsupported schema version 2 (this reader supports 1)",
   *   "camera: missing (expected a camera name …)", "not a protobuf record: index out of range: …"
   */
  constructor(
    readonly recordType: RecordTypeName,
    readonly reason: string,
  ) {
    super(`${recordType} record rejected: ${reason}`);
    this.name = 'SchemaError';
  }
}
