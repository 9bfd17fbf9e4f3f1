import type { Box } from '../detect/types';
import type { Frame } from '../image/frame';
import { cv } from '../util/cv';

/** JPEG of the face region (box plus `margin` of its size on each side, clipped to the frame), for alerts. */
export function faceJpeg(frame: Frame, box: Box, margin = 0.25, quality = 90): Buffer {
  const mx = box.width * margin;
  const my = box.height * margin;
  const x = Math.max(0, Math.floor(box.x - mx));
  const y = Math.max(0, Math.floor(box.y - my));
  const x2 = Math.min(frame.width, Math.ceil(box.x + box.width + mx));
  const y2 = Math.min(frame.height, Math.ceil(box.y + box.height + my));
  // Copy only the face region's rows (not the whole frame) into the Mat to encode.
  const w = Math.max(1, x2 - x);
  const h = Math.max(1, y2 - y);
  const roi = Buffer.allocUnsafe(w * h * 3);
  for (let row = 0; row < h; row++) {
    const start = ((y + row) * frame.width + x) * 3;
    roi.set(frame.data.subarray(start, start + w * 3), row * w * 3);
  }
  const mat = new (cv().Mat)(roi, h, w, cv().CV_8UC3);
  return cv().imencode('.jpg', mat, [cv().IMWRITE_JPEG_QUALITY, quality]);
}
