/**
 * Cuts ffmpeg's rawvideo byte stream (chunks of any size) into whole BGR24 frames of a known size.
 * Holds at most one partial frame; no I/O.
 */
import type { Frame } from '../image/frame';

export class FrameSplitter {
  readonly frameBytes: number;
  private current: Buffer;
  private filled = 0;

  constructor(readonly width: number, readonly height: number) {
    if (!Number.isInteger(width) || width <= 0 || !Number.isInteger(height) || height <= 0) {
      throw new RangeError(`frame size must be positive integers, got ${width}x${height}`);
    }
    this.frameBytes = width * height * 3;
    this.current = Buffer.allocUnsafeSlow(this.frameBytes);
  }

  /** Bytes of the incomplete frame held back (0 when the stream ended on a frame boundary). */
  get pendingBytes(): number {
    return this.filled;
  }

  /**
   * Feed a chunk; calls onFrame for every frame it completes. Each frame owns a whole ArrayBuffer (byteOffset 0,
   * never a slice of a shared pool), so consumers may hand `data.buffer` to native code as is.
   */
  push(chunk: Uint8Array, onFrame: (frame: Frame) => void): void {
    let offset = 0;
    while (offset < chunk.length) {
      const n = Math.min(this.frameBytes - this.filled, chunk.length - offset);
      this.current.set(chunk.subarray(offset, offset + n), this.filled);
      this.filled += n;
      offset += n;
      if (this.filled === this.frameBytes) {
        const data = this.current;
        this.current = Buffer.allocUnsafeSlow(this.frameBytes);
        this.filled = 0;
        onFrame({ width: this.width, height: this.height, data });
      }
    }
  }
}
