/**
 * Scoring detections against ground-truth boxes (for the acceptance test and the benchmark).
 * Hand-written: a small, fixed evaluation rule we want to state exactly.
 */
import { iou } from './nms';
import type { Box } from './types';

export interface BoxMatch {
  /** Ground-truth boxes matched by a detection. */
  found: number;
  /** Detections matching no ground-truth box (or a box already matched by a better detection). */
  falsePositives: number;
  /** Indices of the ground-truth boxes no detection matched. */
  missed: number[];
}

/**
 * Greedy matching: detections in the given order (pass them best first) each take the unmatched
 * ground-truth box they overlap most, if that IoU is >= minIoU.
 */
export function matchBoxes(detections: readonly Box[], truth: readonly Box[], minIoU = 0.4): BoxMatch {
  const taken = new Array<boolean>(truth.length).fill(false);
  let falsePositives = 0;
  for (const d of detections) {
    let best = -1;
    let bestIoU = minIoU;
    truth.forEach((t, i) => {
      if (taken[i]) return;
      const v = iou(d, t);
      if (v >= bestIoU) {
        best = i;
        bestIoU = v;
      }
    });
    if (best >= 0) taken[best] = true;
    else falsePositives++;
  }
  const missed = taken.flatMap((t, i) => (t ? [] : [i]));
  return { found: truth.length - missed.length, falsePositives, missed };
}
