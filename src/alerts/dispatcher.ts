/**
 * Fan-out of alerts to every configured webhook: one spool directory and one deliverer per webhook, so a
 * receiver that is down delays only its own alerts. Wires delivery events to the metrics.
 *
 * Spool directory of a webhook: `<spoolDir>/webhook-<12 hex of sha256(maskUrl(url))>` — keyed by the URL with
 * credentials and secret query parameters masked, so rotating a password keeps the same spool (pending
 * alerts are not orphaned), and no secret ends up in a directory name.
 */
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { FacestreamMetrics } from '../metrics/registry';
import type { Logger } from '../util/log';
import { logger as rootLogger } from '../util/log';
import { maskUrl } from '../util/redact';
import { Alert } from './alert';
import { BackoffOptions, DeliveryHooks, WebhookDeliverer } from './deliverer';
import { Spool } from './spool';

export interface WebhookTarget {
  url: string;
  secret: string | readonly string[];
}

export interface AlertDispatcherOptions {
  webhooks: readonly WebhookTarget[];
  spoolDir: string;
  timeoutMs?: number;
  backoff?: BackoffOptions;
  maxClientErrorAttempts?: number;
  metrics?: Pick<FacestreamMetrics, 'webhookDeliveriesTotal' | 'spoolPending'>;
  logger?: Logger;
  /** Passed to every webhook's deliverer (each hook gets the deliverer: its spool dir names the webhook). */
  hooks?: DeliveryHooks;
}

/** The spool directory of one webhook (see the file comment); `ordinal` separates URLs that mask alike. */
export function webhookSpoolDir(spoolDir: string, url: string, ordinal = 0): string {
  const hash = createHash('sha256').update(maskUrl(url)).digest('hex').slice(0, 12);
  return path.join(spoolDir, ordinal === 0 ? `webhook-${hash}` : `webhook-${hash}-${ordinal + 1}`);
}

export class AlertDispatcher {
  readonly deliverers: readonly WebhookDeliverer[];
  private readonly spoolDir: string;
  private readonly log: Logger;

  constructor(opts: AlertDispatcherOptions) {
    this.spoolDir = path.resolve(opts.spoolDir);
    this.log = (opts.logger ?? rootLogger()).child({ component: 'alerts' });
    const seen = new Map<string, number>();
    this.deliverers = opts.webhooks.map((w) => {
      const masked = maskUrl(w.url);
      const ordinal = seen.get(masked) ?? 0;
      seen.set(masked, ordinal + 1);
      const d = new WebhookDeliverer({
        url: w.url,
        secret: w.secret,
        spool: new Spool(webhookSpoolDir(this.spoolDir, w.url, ordinal)),
        timeoutMs: opts.timeoutMs,
        backoff: opts.backoff,
        maxClientErrorAttempts: opts.maxClientErrorAttempts,
        logger: opts.logger,
        hooks: opts.hooks,
      });
      if (opts.metrics) {
        const m = opts.metrics;
        d.on('delivered', () => m.webhookDeliveriesTotal.inc({ outcome: 'delivered' }));
        d.on('attempt-failed', () => m.webhookDeliveriesTotal.inc({ outcome: 'failed' }));
        d.on('dead', () => m.webhookDeliveriesTotal.inc({ outcome: 'dead' }));
        d.on('pending', () => m.spoolPending.set(this.pending));
      }
      return d;
    });
  }

  /** Starts every deliverer (each first delivers what its spool already holds). */
  async start(): Promise<void> {
    await fs.mkdir(this.spoolDir, { recursive: true, mode: 0o700 });
    await Promise.all(this.deliverers.map((d) => d.start()));
    await this.warnAboutOrphans();
  }

  /**
   * Spools the alert for every webhook. Resolves true if at least one webhook had not seen its id, false if
   * it was a duplicate everywhere (or no webhook is configured).
   */
  async enqueue(alert: Alert): Promise<boolean> {
    const added = await Promise.all(this.deliverers.map((d) => d.enqueue(alert)));
    return added.some(Boolean);
  }

  /** Erasure: removes the identity's undelivered and dead-lettered alerts from every webhook's spool; returns how many. */
  async eraseIdentity(identityId: string): Promise<number> {
    const counts = await Promise.all(this.deliverers.map((d) => d.spool.eraseIdentity(identityId)));
    return counts.reduce((a, b) => a + b, 0);
  }

  /** Alerts pending over all webhooks. */
  get pending(): number {
    return this.deliverers.reduce((n, d) => n + d.pending, 0);
  }

  /** True once every webhook's spool is empty, false if that did not happen within `timeoutMs`. */
  async flush(timeoutMs: number): Promise<boolean> {
    const done = await Promise.all(this.deliverers.map((d) => d.flush(timeoutMs)));
    return done.every(Boolean);
  }

  /** Stops delivery and closes the spools (releasing their locks); undelivered alerts stay on disk. */
  async stop(): Promise<void> {
    await Promise.all(
      this.deliverers.map(async (d) => {
        await d.stop();
        await d.spool.close();
      }),
    );
  }

  /** Pending alerts in spool directories of webhooks no longer configured are reported, not silently kept. */
  private async warnAboutOrphans(): Promise<void> {
    const mine = new Set(this.deliverers.map((d) => path.basename(d.spool.dir)));
    for (const name of await fs.readdir(this.spoolDir).catch(() => [] as string[])) {
      if (!name.startsWith('webhook-') || mine.has(name)) continue;
      const pending = await fs.readdir(path.join(this.spoolDir, name, 'pending')).catch(() => [] as string[]);
      const n = pending.filter((f) => f.endsWith('.json')).length;
      if (n > 0) {
        this.log.warn(
          { spool: path.join(this.spoolDir, name), pending: n },
          'spool of a webhook that is no longer configured still holds undelivered alerts',
        );
      }
    }
  }
}
