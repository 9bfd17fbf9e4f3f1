/**
 * Per-camera decisions over tracks (pure: no I/O). A track collects the embeddings of its best crops; after each
 * new embedding the track is matched as a whole (matcher.matchTrack) and, the first time it is accepted as an
 * identity on an active watchlist, yields one alert decision. A track never alerts twice for the same identity;
 * the (identity, camera) cooldown is applied by the caller.
 */
import type { Box } from '../detect/types';
import type { Matcher, MatchResult } from '../match/matcher';
import { isOnActiveWatchlist } from '../match/gallery';
import type { Snapshot } from '../match/trainer';

export interface TrackFace {
  box: Box;
  ts: number;
  quality: number;
  /** JPEG of the face region from the source frame (for the alert). */
  jpeg: Buffer;
  detectorScore: number;
  frameSize: { width: number; height: number };
}

interface TrackState {
  embeddings: Float32Array[];
  firstSeen: number;
  lastSeen: number;
  best?: TrackFace;
  alerted: Set<string>;
}

export interface AlertDecision {
  trackId: string;
  identity: { id: string; name: string };
  watchlists: string[];
  result: MatchResult;
  firstSeen: number;
  lastSeen: number;
  face: TrackFace;
  embeddings: number;
}

export class TrackDecider {
  private readonly tracks = new Map<string, TrackState>();

  /** Records that the track was seen (first/last seen). */
  seen(trackId: string, firstSeen: number, ts: number): void {
    const t = this.state(trackId, firstSeen);
    t.lastSeen = Math.max(t.lastSeen, ts);
  }

  /** Keeps the face of an embedded crop as the track's picture when it is the best so far. */
  picture(trackId: string, face: TrackFace): void {
    const t = this.tracks.get(trackId);
    if (t && (!t.best || face.quality >= t.best.quality)) t.best = face;
  }

  /** The track's embeddings so far (empty for an unknown track). */
  embeddings(trackId: string): readonly Float32Array[] {
    return this.tracks.get(trackId)?.embeddings ?? [];
  }

  /**
   * Adds an embedding and decides. Returns an alert decision, or the match result when there is none. `matcher`:
   * the snapshot's matcher restricted to this track's candidates (large galleries, snapshot.candidates); default
   * the snapshot's own matcher.
   */
  add(trackId: string, embedding: Float32Array, snapshot: Snapshot, matcher: Matcher = snapshot.matcher): { decision?: AlertDecision; result: MatchResult } {
    const t = this.tracks.get(trackId);
    if (!t) return { result: { accepted: false, reason: 'empty-track', svmScore: NaN, distance: NaN } };
    t.embeddings.push(embedding);
    const result = matcher.matchTrack(t.embeddings);
    if (!result.accepted || !result.identity || t.alerted.has(result.identity) || !t.best) return { result };
    const watchlists = isOnActiveWatchlist(snapshot.gallery, result.identity);
    if (watchlists.length === 0) return { result };
    const identity = snapshot.gallery.identities.find((i) => i.id === result.identity);
    t.alerted.add(result.identity);
    return {
      result,
      decision: {
        trackId,
        identity: { id: result.identity, name: identity?.name ?? result.identity },
        watchlists,
        result,
        firstSeen: t.firstSeen,
        lastSeen: t.lastSeen,
        face: t.best,
        embeddings: t.embeddings.length,
      },
    };
  }

  /** Forget a track that the tracker expired (its embeddings are dropped: biometric data is not kept). */
  forget(trackId: string): void {
    this.tracks.delete(trackId);
  }

  get size(): number {
    return this.tracks.size;
  }

  private state(trackId: string, firstSeen: number): TrackState {
    let t = this.tracks.get(trackId);
    if (!t) {
      t = { embeddings: [], firstSeen, lastSeen: firstSeen, alerted: new Set() };
      this.tracks.set(trackId, t);
    }
    return t;
  }
}
