import type { Box } from '../detect/types';
import { frameToMat } from '../detect/cvmat';
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
  const mat = frameToMat(frame);
  const roi = mat.getRegion(new (cv().Rect)(x, y, Math.max(1, x2 - x), Math.max(1, y2 - y)));
  return cv().imencode('.jpg', roi, [cv().IMWRITE_JPEG_QUALITY, quality]);
}
