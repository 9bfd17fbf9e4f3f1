/**
 * Recent alerts for GET /alerts: summaries only — who, where, when, scores, box — never the face JPEG (a picture of
 * a face is biometric data and stays with the webhook and the spool) and never an embedding.
 *
 * Embedded mode keeps the newest MEMORY_FEED_CAP summaries in memory, fed by the runtime's 'alert' events (they do
 * not survive a restart; the webhook receivers are the system of record). Distributed mode reads the capped Redis
 * stream the alerts service writes (redis-feed.ts).
 */
import type { Alert } from '../../alerts/alert';

export interface AlertSummary {
  id: string;
  camera: string;
  identity: { id: string; name: string };
  watchlists: string[];
  scores: { svm: number; distance: number; detector: number };
  trackId: string;
  firstSeen: string;
  lastSeen: string;
  box: { x: number; y: number; width: number; height: number };
  frameSize: { width: number; height: number };
  createdAt: string;
}

export interface AlertQuery {
  camera?: string;
  /** Identity id. */
  identity?: string;
  /** Alerts created at or after this time (ms since the epoch). */
  since?: number;
  /** Alerts created at or before this time (ms since the epoch). */
  until?: number;
  /** At most this many, newest first. */
  limit: number;
}

export interface AlertFeed {
  /** Newest first, filtered. */
  recent(query: AlertQuery): Promise<AlertSummary[]>;
  /** Erasure: drops every alert of the identity; returns how many. */
  forget(identityId: string): Promise<number>;
  close(): Promise<void>;
}

/** The summary of an alert: every field but the face JPEG. */
export function summarizeAlert(a: Alert): AlertSummary {
  return {
    id: a.id,
    camera: a.camera,
    identity: { id: a.identity.id, name: a.identity.name },
    watchlists: [...a.watchlists],
    scores: { svm: a.scores.svm, distance: a.scores.distance, detector: a.scores.detector },
    trackId: a.trackId,
    firstSeen: a.firstSeen,
    lastSeen: a.lastSeen,
    box: { x: a.box.x, y: a.box.y, width: a.box.width, height: a.box.height },
    frameSize: { width: a.frameSize.width, height: a.frameSize.height },
    createdAt: a.createdAt,
  };
}

/** Whether a summary passes the query's filters (not the limit). */
export function matchesQuery(s: AlertSummary, q: AlertQuery): boolean {
  if (q.camera !== undefined && s.camera !== q.camera) return false;
  if (q.identity !== undefined && s.identity.id !== q.identity) return false;
  const at = Date.parse(s.createdAt);
  if (q.since !== undefined && !(at >= q.since)) return false;
  if (q.until !== undefined && !(at <= q.until)) return false;
  return true;
}

export const MEMORY_FEED_CAP = 1000;

/** The embedded mode's feed: the newest `cap` summaries, in memory. */
export class MemoryAlertFeed implements AlertFeed {
  private readonly items: AlertSummary[] = [];

  constructor(private readonly cap = MEMORY_FEED_CAP) {}

  add(alert: Alert): void {
    this.items.push(summarizeAlert(alert));
    if (this.items.length > this.cap) this.items.splice(0, this.items.length - this.cap);
  }

  async recent(q: AlertQuery): Promise<AlertSummary[]> {
    const out: AlertSummary[] = [];
    for (let i = this.items.length - 1; i >= 0 && out.length < q.limit; i--) {
      if (matchesQuery(this.items[i], q)) out.push(this.items[i]);
    }
    return out;
  }

  async forget(identityId: string): Promise<number> {
    const before = this.items.length;
    const kept = this.items.filter((s) => s.identity.id !== identityId);
    this.items.splice(0, this.items.length, ...kept);
    return before - kept.length;
  }

  async close(): Promise<void> {}
}
