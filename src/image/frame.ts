/**
 * A decoded image or video frame: 8-bit BGR, interleaved, row-major, no padding.
 * This is the unit every stage core works on; it carries no I/O handles, so it can be
 * produced by ffmpeg (ingest), by image decoding (enrol, eval) or by a test.
 */
export interface Frame {
  readonly width: number;
  readonly height: number;
  /** width * height * 3 bytes, B,G,R order. */
  readonly data: Uint8Array;
}

export function assertFrame(frame: Frame): void {
  const { width, height, data } = frame;
  if (!Number.isInteger(width) || width <= 0 || !Number.isInteger(height) || height <= 0) {
    throw new RangeError(`frame size must be positive integers, got ${width}x${height}`);
  }
  if (data.length !== width * height * 3) {
    throw new RangeError(
      `frame data must hold width*height*3 = ${width * height * 3} bytes (BGR), got ${data.length}`,
    );
  }
}
