/**
 * Candidate indexes for matcher snapshots of large galleries. Scoring every identity in JavaScript costs ~0.1 us
 * per identity per embedding (about 100 ms per embedding at 1M identities); above `indexAbove` identities a
 * snapshot also carries a CandidateMatcher over an ExactIndex of its SVM weights and biases (onnxruntime GEMM +
 * top-k, k 2), and decisions are made by matcher.ts restricted to those candidates — the same decisions as
 * scoring every identity (candidates.ts explains why), measured by bench:distributed.
 */
import { ExactIndex } from './exact-index';
import { CandidateMatcher } from './candidates';
import type { Snapshot } from '../trainer';

/** Top SVM scores taken as candidates per embedding: the best and the runner-up, as matcher.ts looks at. */
export const SVM_CANDIDATES = 2;

/** The snapshot with a candidate index when its gallery has more than `indexAbove` identities, else itself. */
export async function withCandidateIndex(s: Snapshot, indexAbove: number): Promise<Snapshot> {
  if (s.gallery.identities.length <= indexAbove || s.gallery.identities.length === 0) return s;
  const index = await ExactIndex.create(s.model.weights, s.gallery.dim, { bias: s.model.bias });
  try {
    // The snapshot's gallery already carries the configured threshold overrides (as its matcher does).
    return { ...s, candidates: CandidateMatcher.create(s.gallery, s.model, { kind: 'svm', index, k: SVM_CANDIDATES }) };
  } catch (err) {
    await index.close();
    throw err;
  }
}

/**
 * Releases a replaced snapshot's index once searches already started on it have had time to end (a record being
 * matched holds the snapshot it started with; a search takes milliseconds).
 */
export function releaseCandidateIndex(s: Snapshot | undefined, afterMs = 30_000): void {
  const c = s?.candidates;
  if (!c) return;
  const t = setTimeout(() => void c.close().catch(() => undefined), afterMs);
  t.unref();
}
