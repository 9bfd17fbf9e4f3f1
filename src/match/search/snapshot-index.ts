/**
 * Candidate indexes for matcher snapshots of large galleries. Scoring every identity in JavaScript costs ~0.1 us
 * per identity per embedding (about 100 ms per embedding at 1M identities); above `indexAbove` identities a
 * snapshot also carries a CandidateMatcher over an index of its SVM weights and biases, and decisions are made by
 * matcher.ts restricted to the index's top 2 (candidates.ts explains why):
 *   - exact (default): ExactIndex, onnxruntime GEMM + top-k over every identity: the same decisions as scoring
 *     every identity;
 *   - approximate: AnnIndex (USearch HNSW over 8-bit rows, candidates re-scored exactly): the same decisions
 *     whenever it finds the top identity (recall@1, measured by bench:distributed), several times faster at 1M.
 */
import { AnnIndex, type AnnParams, type GraphLayout } from './ann-index';
import { ExactIndex } from './exact-index';
import { CandidateMatcher } from './candidates';
import type { GalleryIndex } from './types';
import type { Snapshot } from '../trainer';

/** Which index a large gallery gets; `approximate` carries the graph's parameters. */
export type CandidateIndexKind =
  | { kind: 'exact' }
  | {
      kind: 'approximate';
      params: AnnParams;
      onProgress?: (done: number, total: number) => void;
      signal?: AbortSignal;
      /** The graph's memory order (default breadth-first) and where its temporary file goes (ann-index.ts). */
      layout?: GraphLayout;
      tempDir?: string;
      /** Told when the graph could not be laid out breadth-first and mapped (it then works in insertion order from the heap, slower). */
      onLayoutFailed?: (reason: string) => void;
    };

/** Top SVM scores taken as candidates per embedding: the best and the runner-up, as matcher.ts looks at. */
export const SVM_CANDIDATES = 2;

/** The snapshot with a candidate index when its gallery has more than `indexAbove` identities, else itself. */
export async function withCandidateIndex(s: Snapshot, indexAbove: number, how: CandidateIndexKind = { kind: 'exact' }): Promise<Snapshot> {
  if (s.gallery.identities.length <= indexAbove || s.gallery.identities.length === 0) return s;
  const index: GalleryIndex =
    how.kind === 'exact'
      ? await ExactIndex.create(s.model.weights, s.gallery.dim, { bias: s.model.bias })
      : await AnnIndex.buildScored(s.model.weights, s.model.bias, s.gallery.dim, how.params, {
          onProgress: how.onProgress,
          signal: how.signal,
          layout: how.layout,
          tempDir: how.tempDir,
          onLayoutFailed: how.onLayoutFailed,
        });
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
