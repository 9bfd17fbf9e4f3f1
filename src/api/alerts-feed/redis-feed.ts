/**
 * Distributed mode's recent alerts: the alerts service appends a summary of every alert it consumes to a capped
 * Redis stream, `<redis.prefix>alerts:recent` (XADD MAXLEN ~ RECENT_ALERTS_MAX, field `a` = the summary as JSON —
 * no face JPEG, no embedding), and the API reads it newest first (XREVRANGE) with its filters. A replayed record
 * is appended again; the reader keeps the first (newest) copy of each alert id.
 *
 * Recording is best effort: it never holds up or fails alert delivery (Redis down → the summary is skipped and
 * counted in the log, the alert is still delivered).
 */
import type { Alert } from '../../alerts/alert';
import type { Logger } from '../../util/log';
import type { RedisUrlScrubber } from '../../util/redis-url';
import { openApiRedis, type ApiRedis } from '../redis-client';
import { matchesQuery, summarizeAlert, type AlertFeed, type AlertQuery, type AlertSummary } from './feed';

export const RECENT_ALERTS_MAX = 10_000;
/** Stream entries read per XREVRANGE page while filtering. */
const PAGE = 500;

export function recentAlertsKey(prefix: string): string {
  return `${prefix}alerts:recent`;
}

/** The alerts service's writer. */
export class RedisAlertRecorder {
  private readonly redis: ApiRedis;
  private readonly key: string;

  constructor(url: string, prefix: string, private readonly log: Logger, private readonly maxLen = RECENT_ALERTS_MAX) {
    this.redis = openApiRedis(url, log, 'recent alerts redis');
    this.key = recentAlertsKey(prefix);
  }

  /** Appends the alert's summary; resolves false (logged) when Redis did not take it. Never throws. */
  async record(alert: Alert): Promise<boolean> {
    try {
      await this.redis.client.xadd(this.key, 'MAXLEN', '~', String(this.maxLen), '*', 'a', JSON.stringify(summarizeAlert(alert)));
      return true;
    } catch (err) {
      this.log.warn({ alertId: alert.id, err: this.redis.scrubber.scrub((err as Error).message) }, 'alert summary not recorded for the API (redis); the alert is still delivered');
      return false;
    }
  }

  async close(): Promise<void> {
    await this.redis.close();
  }
}

/** The API's reader. */
export class RedisAlertFeed implements AlertFeed {
  private readonly redis: ApiRedis;
  private readonly key: string;

  constructor(url: string, prefix: string, log: Logger) {
    this.redis = openApiRedis(url, log, 'recent alerts redis');
    this.key = recentAlertsKey(prefix);
  }

  private get client() {
    return this.redis.client;
  }

  private get scrubber(): RedisUrlScrubber {
    return this.redis.scrubber;
  }

  async recent(q: AlertQuery): Promise<AlertSummary[]> {
    const out: AlertSummary[] = [];
    const seen = new Set<string>();
    // Stream ids are when the alerts service recorded an alert (after it was created, and not in createdAt order
    // across matchers), so the time filters apply to createdAt and the scan is bounded by the stream's cap.
    let end = '+';
    for (let scanned = 0; scanned < RECENT_ALERTS_MAX && out.length < q.limit; ) {
      let page: [string, string[]][];
      try {
        page = await this.client.xrevrange(this.key, end, '-', 'COUNT', PAGE);
      } catch (err) {
        throw new Error(`recent alerts: cannot read them from redis ${this.scrubber.url}: ${this.scrubber.scrub((err as Error).message)}`);
      }
      if (page.length === 0) break;
      for (const [, fields] of page) {
        const i = fields.indexOf('a');
        if (i < 0 || i + 1 >= fields.length) continue;
        let s: AlertSummary;
        try {
          s = JSON.parse(fields[i + 1]) as AlertSummary;
        } catch {
          continue;
        }
        if (seen.has(s.id)) continue;
        seen.add(s.id);
        if (matchesQuery(s, q)) out.push(s);
        if (out.length >= q.limit) break;
      }
      scanned += page.length;
      const lastId = page[page.length - 1][0];
      end = `(${lastId}`;
      if (page.length < PAGE) break;
    }
    return out;
  }

  /** Erasure: deletes the identity's entries from the stream (scanned in pages; the stream is capped). */
  async forget(identityId: string): Promise<number> {
    let removed = 0;
    let start = '-';
    for (;;) {
      const page = await this.client.xrange(this.key, start, '+', 'COUNT', PAGE);
      const ids = page.filter(([, f]) => {
        const i = f.indexOf('a');
        try {
          return i >= 0 && (JSON.parse(f[i + 1]) as AlertSummary).identity.id === identityId;
        } catch {
          return false;
        }
      }).map(([id]) => id);
      if (ids.length > 0) removed += await this.client.xdel(this.key, ...ids);
      if (page.length < PAGE) return removed;
      start = `(${page[page.length - 1][0]}`;
    }
  }

  async health(): Promise<{ ok: boolean; detail: string }> {
    try {
      await this.client.ping();
      return { ok: true, detail: `recent alerts in ${this.scrubber.url}` };
    } catch (err) {
      return { ok: false, detail: `redis ${this.scrubber.url}: ${this.scrubber.scrub((err as Error).message)}` };
    }
  }

  async close(): Promise<void> {
    await this.redis.close();
  }
}
