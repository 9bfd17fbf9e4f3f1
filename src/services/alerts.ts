/**
 * The alerts service (distributed mode): consumes AlertRecords from the alerts topic and delivers each alert to every
 * configured webhook, signed the Standard Webhooks way (webhook-id = the alert id), with retries, backoff and a
 * durable local spool — the embedded mode's AlertDispatcher / Spool / WebhookDeliverer (src/alerts/*) — and exactly
 * one delivery per (alert id, webhook) across replays, consumer-group rebalances and several alerts processes,
 * coordinated in Redis (src/alerts/dedup.ts: `<prefix>alert:<id>:<webhook tag>` = owner | delivered:owner, TTL
 * redis.dedupTtlSec).
 *
 * Flow of one alert, per webhook:
 *   consume   decode (bad record → dead-letter topic by the consumer) → peek its Redis key: delivered, or claimed by
 *             another instance → skip (counted as a duplicate; that instance holds it durably) → else spool it
 *             (fsynced; a no-op when already pending or dead-lettered here) → the handler returns and only then may
 *             the consumer commit the offset. Redis unreachable → spool anyway (the claim below decides).
 *   deliver   the deliverer takes the spool's head and asks beforeSend: claim the key (SET NX EX, Lua) → claimed or
 *             mine → POST; delivered or another owner → drop it from this spool undelivered; Redis unreachable →
 *             retry later (the alert stays spooled; nothing is ever sent unclaimed; /readyz reports redis).
 *             A 2xx → afterDelivered: mark the key delivered (retried while Redis is down, no new POST) → only then
 *             does the spool forget the alert. A non-retryable 4xx after alerts.maxClientErrorAttempts → the dead
 *             letter (with the reason and the re-encoded record) is written to the dead-letter topic → the spool
 *             moves it to dead/.
 *   The owner id is stored in the spool directory (services/alerts/instance-id.ts): a process restarted on its
 *   spool still owns, and sends, what it claimed before.
 *
 * Why no alert is lost (each step is durable before the previous one is let go):
 *   - crash after spooling, before the commit: the record is consumed again (here or, after a rebalance, by another
 *     instance); spooling is idempotent by id, and if both instances spool it the first to claim sends it and the
 *     other drops it on its claim. Before the spool write returns, nothing is committed.
 *   - crash after the claim, before the POST: the alert is still in this instance's spool and the claim is this
 *     instance's (same owner id after the restart): it is sent on restart. (Another instance holding a copy drops
 *     it: the claim says "other".)
 *   - Redis down: nothing is claimed, so nothing is sent and nothing leaves a spool; delivery resumes when it returns.
 *   - receiver down/5xx: retried with backoff forever (the spool survives restarts); a 4xx that keeps coming is
 *     dead-lettered to the topic and kept in dead/ (not lost, visible).
 * Why none is delivered twice by this service: a POST happens only under a claim this instance holds; a claim by
 * another instance or a delivered mark makes every other copy (replay, rebalance, second process) drop out, both
 * at consume time and again right before sending; the mark is written before the spool forgets the alert, so a
 * crash after the mark finds "delivered" and skips.
 * The one window no sender can close: a crash (or a stop while Redis cannot take the mark) AFTER the receiver
 * accepted the POST and BEFORE the delivered mark was written. The alert is then still spooled and claimed by this
 * instance, and is sent again on restart with the SAME webhook-id header (= alert id): receivers de-duplicate on
 * webhook-id, as Standard Webhooks recommends, and the window is one request wide.
 * Assumptions: Redis keeps its data (AOF) — a Redis that loses its keys forgets claims and marks; a spool
 * directory is durable and comes back with its process (an instance that never returns leaves the alerts it
 * claimed undelivered); a replay after redis.dedupTtlSec is a new delivery.
 *
 * Metrics (host registry): facestream_webhook_deliveries_total{outcome} and facestream_spool_pending (dispatcher),
 * facestream_alert_duplicates_skipped_total{where=consume|deliver, reason=delivered|claimed_elsewhere|spooled},
 * facestream_frame_to_alert_seconds (frame time — the ingest.decode stamp, else the first stamp, else the alert's
 * lastSeen after a restart — to each webhook's successful delivery), hop_seconds for alerts.receive and
 * alerts.deliver, dead letters written.
 *
 * SIGTERM (host.shutdown): the consumer stops and commits what was spooled, then the spool is flushed for a bounded
 * time (AlertsServiceOptions.shutdownFlushMs); what is still undelivered stays spooled for the next start.
 */
import path from 'node:path';
import { Counter } from 'prom-client';
import type { Alert } from '../alerts/alert';
import { AlertClaims, type ClaimState } from '../alerts/dedup';
import type { DeliveryHooks, WebhookDeliverer } from '../alerts/deliverer';
import { AlertDispatcher } from '../alerts/dispatcher';
import { METRIC_PREFIX } from '../metrics/registry';
import {
  type AlertRecord,
  type DeadLetter,
  deadLetterKey,
  decodeAlertRecord,
  encodeAlertRecord,
  encodeDeadLetter,
  Stage,
  type StageStamp,
} from '../schema';
import { RetryableError } from '../transport/consumer';
import type { ServiceHost } from './host';
import { spoolInstanceId } from './alerts/instance-id';
import { RecentAlerts } from './alerts/recent';
import { RedisAlertRecorder } from '../api/alerts-feed/redis-feed';

export interface AlertsServiceOptions {
  /** How long a graceful shutdown waits for spooled alerts to be delivered (default 10 000 ms); the rest stay spooled. */
  shutdownFlushMs?: number;
  /** How long the start waits for Redis before going on (not ready, alerts spooled meanwhile); default 5000 ms. */
  redisWaitMs?: number;
}

/** What the alerts service exposes to its caller (tests, the CLI): everything else is on the host. */
export interface AlertsService {
  /** The owner id of this instance's claims (stable across restarts on the same spool directory). */
  readonly instanceId: string;
  readonly dispatcher: AlertDispatcher;
  readonly claims: AlertClaims;
}

export type DuplicateReason = 'delivered' | 'claimed_elsewhere' | 'spooled';

/** Starts consuming the alerts topic and delivering; returns once running (see the file comment). */
export async function startAlertsService(host: ServiceHost, options: AlertsServiceOptions = {}): Promise<void> {
  await runAlertsService(host, options);
}

/** startAlertsService, returning the service's parts (for tests and diagnostics). */
export async function runAlertsService(host: ServiceHost, options: AlertsServiceOptions = {}): Promise<AlertsService> {
  const { config, log } = host;
  const webhooks = config.alerts.webhooks;
  if (webhooks.length === 0) {
    throw new Error('alerts service: no webhook configured (set alerts.webhooks in the config or pass --webhook URL; the secret comes from FACESTREAM_WEBHOOK_SECRET)');
  }
  const redisUrl = config.redis.url;
  if (!redisUrl) {
    throw new Error('alerts service: redis.url is not set (FACESTREAM_REDIS__URL or --redis redis://host:port): Redis de-duplicates deliveries across alerts processes');
  }
  const spoolDir = path.resolve(config.alerts.spoolDir);
  const instanceId = await spoolInstanceId(spoolDir, host.instanceId);
  const claims = new AlertClaims({ url: redisUrl, prefix: config.redis.prefix, ttlSec: config.redis.dedupTtlSec, owner: instanceId, log });
  const duplicates = new Counter({
    name: `${METRIC_PREFIX}alert_duplicates_skipped_total`,
    help: 'Alerts not delivered again because Redis says delivered or claimed by another instance, or already spooled here; by where (consume | deliver) and reason',
    labelNames: ['where', 'reason'] as const,
    registers: [host.metrics.registry],
  });
  for (const where of ['consume', 'deliver']) for (const reason of ['delivered', 'claimed_elsewhere', 'spooled']) duplicates.inc({ where, reason }, 0);
  const recent = new RecentAlerts();
  // Summaries (no face JPEG) for the management API's GET /alerts; best effort, never holds up delivery.
  const summaries = new RedisAlertRecorder(redisUrl, config.redis.prefix, log);
  const recorded = new Set<string>();
  const tag = (d: WebhookDeliverer): string => path.basename(d.spool.dir);

  const hooks: DeliveryHooks = {
    async beforeSend(alert, d) {
      const r = await claims.claim(alert.id, tag(d)); // throws while Redis is unreachable → retry later
      if (r === 'claimed' || r === 'mine') return 'send';
      const reason: DuplicateReason = r === 'delivered' ? 'delivered' : 'claimed_elsewhere';
      duplicates.inc({ where: 'deliver', reason });
      log.info({ alertId: alert.id, camera: alert.camera, webhook: d.maskedUrl, reason }, 'alert dropped from this spool: delivered or held by another alerts instance');
      return 'skip';
    },
    async afterDelivered(alert, d) {
      await claims.markDelivered(alert.id, tag(d));
      const now = Date.now();
      const seen = recent.get(alert.id);
      const frameTs = seen?.frameTs ?? Date.parse(alert.lastSeen);
      if (Number.isFinite(frameTs)) host.metrics.frameToAlertSeconds.observe(Math.max(0, now - frameTs) / 1000);
      if (seen) host.observeStages([seen.received, { stage: Stage.alertsDeliver, tsMs: now }]);
    },
    async beforeDead(id, reason, alert, d) {
      const seen = recent.get(id);
      const letter: DeadLetter = {
        sourceTopic: host.topics.alerts,
        partition: seen?.partition ?? 0,
        offset: seen?.offset ?? '0',
        reason: `webhook ${d.maskedUrl}: ${reason}${seen ? '' : ' (spooled before a restart: source partition/offset unknown)'}`,
        original: alert ? encodeAlertRecord({ alert, stages: seen?.stages ?? [] }) : null,
        originalKey: alert ? Buffer.from(alert.camera, 'utf8') : null,
        failedAtMs: Date.now(),
        service: host.role,
      };
      await host.producer.send(host.topics.dlq, [{ key: deadLetterKey(letter), value: encodeDeadLetter(letter) }]);
      host.service.deadLettersTotal.inc({ topic: host.topics.alerts });
    },
  };

  const dispatcher = new AlertDispatcher({
    webhooks: webhooks.map((w) => ({ url: w.url, secret: w.secret })),
    spoolDir,
    timeoutMs: config.alerts.timeoutMs,
    backoff: config.alerts.backoff,
    maxClientErrorAttempts: config.alerts.maxClientErrorAttempts,
    metrics: host.metrics,
    logger: log,
    hooks,
  });
  const tags = dispatcher.deliverers.map(tag);

  try {
    if (!(await claims.waitReady(options.redisWaitMs ?? 5000))) {
      log.warn({ redis: claims.url }, 'redis not reachable yet: alerts are spooled and sent once it answers');
    }
    await dispatcher.start(); // delivers what the spool already holds (claims decide)
    host.readiness('redis', () => claims.health());
    host.readiness('alerts spool', () => ({ ok: true, detail: `${dispatcher.pending} alert deliveries pending` }));
    host.onShutdown(async () => {
      const flushed = await dispatcher.flush(options.shutdownFlushMs ?? 10_000);
      if (!flushed) log.warn({ pending: dispatcher.pending }, 'shutdown: undelivered alerts stay spooled for the next start');
      await dispatcher.stop();
      await claims.close();
      await summaries.close();
    });

    await host.consume<AlertRecord>({
      topic: 'alerts',
      decode: decodeAlertRecord,
      handle: async (record, meta) => {
        const received: StageStamp = { stage: Stage.alertsReceive, tsMs: Date.now() };
        const last = record.stages[record.stages.length - 1];
        if (last) host.observeStages([last, received]);
        const alert: Alert = record.alert;
        recent.set(alert.id, { frameTs: frameTime(record), received, stages: record.stages, partition: meta.partition, offset: meta.offset });

        let states: (ClaimState | undefined)[] = tags.map(() => undefined);
        if (claims.connected) {
          try {
            states = await claims.peek(alert.id, tags);
          } catch (err) {
            log.debug({ alertId: alert.id, err: (err as Error).message }, 'redis peek failed; spooling (the claim decides)');
          }
        }
        for (const [i, d] of dispatcher.deliverers.entries()) {
          const s = states[i];
          if (s === 'delivered' || s === 'other') {
            duplicates.inc({ where: 'consume', reason: s === 'delivered' ? 'delivered' : 'claimed_elsewhere' });
            continue;
          }
          let added: boolean;
          try {
            added = await d.enqueue(alert);
          } catch (err) {
            // Local disk trouble is not the record's fault: retried in place (never dead-lettered, never committed).
            throw new RetryableError(`cannot spool alert ${alert.id} for ${d.maskedUrl}: ${(err as Error).message}`, { cause: err });
          }
          if (!added) duplicates.inc({ where: 'consume', reason: 'spooled' });
        }
        if (!recorded.has(alert.id)) {
          recorded.add(alert.id);
          if (recorded.size > 10_000) recorded.delete(recorded.values().next().value!);
          void summaries.record(alert);
        }
      },
    });
  } catch (err) {
    await dispatcher.stop().catch(() => undefined);
    await claims.close().catch(() => undefined);
    await summaries.close().catch(() => undefined);
    throw err;
  }
  log.info({ instance: instanceId, spool: spoolDir, webhooks: dispatcher.deliverers.map((d) => d.maskedUrl), redis: claims.url }, 'alerts service started');
  return { instanceId, dispatcher, claims };
}

/** The frame time of a record: its ingest.decode stamp, else its first stamp, else the alert's lastSeen. */
export function frameTime(record: AlertRecord): number {
  const decode = record.stages.find((s) => s.stage === Stage.ingestDecode);
  return decode?.tsMs ?? record.stages[0]?.tsMs ?? Date.parse(record.alert.lastSeen);
}
