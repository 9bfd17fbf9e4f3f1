/**
 * detect -> align -> quality for one frame: the entry point of every later stage (enrolment,
 * evaluation, live cameras). Returns every detected face with its quality; callers decide what
 * to drop with `qualityGate`.
 */
import type { Frame } from '../image/frame';
import type { EmbedderDescriptor } from '../models/descriptor';
import { alignFaceMat } from './align';
import { frameMatView } from './cvmat';
import type { FaceDetector } from './detector';
import { assessQuality } from './quality';
import type { AlignedFace } from './types';

/** Faces of the frame, in the detector's order (best score first), aligned for `embedder`. */
export async function analyzeFrame(
  detector: FaceDetector,
  frame: Frame,
  embedder: EmbedderDescriptor,
): Promise<AlignedFace[]> {
  // A view of the frame's bytes (no copy) serves detection and alignment; it does not outlive this call.
  const mat = frameMatView(frame);
  const detections = await detector.detect(frame, mat);
  if (detections.length === 0) return [];
  return detections.map((detection) => {
    const crop = alignFaceMat(mat, detection, embedder);
    return { detection, quality: assessQuality(detection, crop), crop };
  });
}
