/**
 * Delivers spooled alerts to one webhook, one at a time in spool order (concurrency 1: receivers see
 * alerts in the order they were raised, and a down receiver costs one request per backoff step, not N).
 *
 * Per alert: POST the alert JSON with Standard Webhooks headers (re-signed each attempt: the timestamp is
 * the attempt's, the webhook-id is the alert id), a per-request timeout, and
 *   2xx                                  → delivered (file deleted)
 *   5xx, 408, 429, network error, timeout → retried forever, exponential backoff with jitter, capped;
 *                                          a Retry-After header (seconds or HTTP date) is honoured
 *   other 4xx and 3xx (redirects are not followed: they would carry the signature elsewhere)
 *                                        → retried up to `maxClientErrorAttempts`, then dead-lettered
 * On start() everything already in the spool (e.g. spooled before a restart) is delivered first.
 *
 * Hooks (optional, for a caller that coordinates several deliverers, e.g. exactly-once across processes):
 *   beforeSend(alert)     asked before every POST: 'send' | 'skip' (drop it from this spool, undelivered: someone
 *                         else holds or delivered it) | 'retry-later' (ask again after a backoff; throwing = the same)
 *   afterDelivered(alert) after a 2xx and BEFORE the alert leaves the spool; a failure is retried (no new POST)
 *                         until it succeeds or stop() (the alert then stays spooled)
 *   beforeDead(…)         before an alert moves to dead/; a failure is retried likewise
 *
 * The retry loop is hand-written rather than built on `exponential-backoff`: that library's waits cannot be
 * cancelled (stop() would hang for up to the maximum delay) and it has no hook for Retry-After.
 *
 * Secrets: the webhook URL may carry credentials (user:password@ → sent as HTTP Basic auth, since fetch
 * refuses credentials in URLs; secret query parameters are sent as given). Logs and events carry only
 * maskUrl(url); the signing secret is never logged.
 */
import { EventEmitter } from 'node:events';
import type { Logger } from '../util/log';
import { logger as rootLogger } from '../util/log';
import { maskUrl } from '../util/redact';
import { Alert } from './alert';
import { webhookHeaders } from './sign';
import { Spool } from './spool';

export interface BackoffOptions {
  /** First retry delay (ms). Default 1000. */
  initialMs?: number;
  /** Cap of the retry delay (ms). Default 60 000. */
  maxMs?: number;
  /** Growth factor per failed attempt. Default 2. */
  multiplier?: number;
}

/** What DeliveryHooks.beforeSend decided about an alert at the head of the spool. */
export type SendDecision = 'send' | 'skip' | 'retry-later';

/** Optional callbacks around each delivery (see the file comment). */
export interface DeliveryHooks {
  beforeSend?(alert: Alert, deliverer: WebhookDeliverer): SendDecision | Promise<SendDecision>;
  afterDelivered?(alert: Alert, deliverer: WebhookDeliverer): void | Promise<void>;
  /** `alert` is undefined when the spool entry itself could not be read. */
  beforeDead?(id: string, reason: string, alert: Alert | undefined, deliverer: WebhookDeliverer): void | Promise<void>;
}

export interface DelivererOptions {
  url: string;
  /** Signing secret(s) (see sign.ts); several = one signature each (rotation). */
  secret: string | readonly string[];
  spool: Spool;
  /** Per-request timeout (ms). Default 10 000. */
  timeoutMs?: number;
  backoff?: BackoffOptions;
  /** Attempts before an alert answered with a non-retryable 4xx/3xx is dead-lettered. Default 5. */
  maxClientErrorAttempts?: number;
  /** Cap on a receiver's Retry-After (ms). Default 600 000 (10 min). */
  maxRetryAfterMs?: number;
  logger?: Logger;
  hooks?: DeliveryHooks;
  /** For tests: random source of the jitter (0..1). */
  random?: () => number;
}

export interface DeliveredEvent {
  id: string;
  attempts: number;
  status: number;
}
export interface AttemptFailedEvent {
  id: string;
  attempt: number;
  /** HTTP status, absent for network errors and timeouts. */
  status?: number;
  /** What went wrong (no secrets). */
  error: string;
  /** Delay before the next attempt; absent when the alert is dead-lettered instead. */
  retryInMs?: number;
}
export interface DeadEvent {
  id: string;
  reason: string;
}

export interface SkippedEvent {
  id: string;
}
export interface DeferredEvent {
  id: string;
  /** Why it was not sent now (a hook's error text, or its 'retry-later'). */
  error: string;
  retryInMs: number;
}

export interface DelivererEvents {
  delivered: [DeliveredEvent];
  /** beforeSend answered 'skip': the alert left the spool undelivered. */
  skipped: [SkippedEvent];
  /** beforeSend answered 'retry-later' (or threw): the alert stays at the head of the spool. */
  deferred: [DeferredEvent];
  'attempt-failed': [AttemptFailedEvent];
  dead: [DeadEvent];
  /** Number of pending alerts after each change. */
  pending: [number];
  /** The spool became empty and nothing is in flight. */
  idle: [];
}

type Outcome =
  | { kind: 'delivered'; status: number }
  | { kind: 'retry'; status?: number; error: string; retryAfterMs?: number }
  | { kind: 'client-error'; status: number; error: string };

export class WebhookDeliverer extends EventEmitter<DelivererEvents> {
  /** The webhook URL with credentials masked (safe to log/show). */
  readonly maskedUrl: string;
  private readonly target: string;
  private readonly authorization: string | undefined;
  private readonly secrets: readonly string[];
  /** The spool this deliverer drains. */
  readonly spool: Spool;
  private readonly timeoutMs: number;
  private readonly initialMs: number;
  private readonly maxMs: number;
  private readonly multiplier: number;
  private readonly maxClientErrorAttempts: number;
  private readonly maxRetryAfterMs: number;
  private readonly log: Logger;
  private readonly random: () => number;
  private readonly rawUrl: string;
  private readonly secretStrings: string[];
  private readonly hooks: DeliveryHooks;
  private abort = new AbortController();
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  private busy = false;

  constructor(opts: DelivererOptions) {
    super();
    const url = new URL(opts.url);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new Error(`webhook URL must be http(s), got ${maskUrl(opts.url)}`);
    }
    this.maskedUrl = maskUrl(opts.url);
    const user = decodeURIComponent(url.username);
    const rawPass = url.password;
    const pass = decodeURIComponent(rawPass);
    this.authorization =
      user || pass ? `Basic ${Buffer.from(`${user}:${pass}`, 'utf8').toString('base64')}` : undefined;
    url.username = '';
    url.password = '';
    this.target = url.toString();
    this.secrets = typeof opts.secret === 'string' ? [opts.secret] : [...opts.secret];
    if (this.secrets.length === 0 || this.secrets.some((s) => !s)) throw new Error('webhook secret is empty');
    this.spool = opts.spool;
    this.timeoutMs = opts.timeoutMs ?? 10_000;
    this.initialMs = opts.backoff?.initialMs ?? 1_000;
    this.maxMs = opts.backoff?.maxMs ?? 60_000;
    this.multiplier = opts.backoff?.multiplier ?? 2;
    this.maxClientErrorAttempts = opts.maxClientErrorAttempts ?? 5;
    this.maxRetryAfterMs = opts.maxRetryAfterMs ?? 600_000;
    this.random = opts.random ?? Math.random;
    this.hooks = opts.hooks ?? {};
    this.log = (opts.logger ?? rootLogger()).child({ component: 'webhook', webhook: this.maskedUrl });
    // Strings that must never leave this object in an error text.
    this.rawUrl = opts.url;
    this.secretStrings = [rawPass, pass, ...this.secrets].filter((s) => s.length >= 3);
  }

  /** Opens the spool and starts delivering, beginning with what is already spooled. Idempotent. */
  async start(): Promise<void> {
    if (this.loop) return;
    await this.spool.open();
    this.abort = new AbortController();
    if (this.spool.size > 0) this.log.info({ pending: this.spool.size }, 'delivering alerts spooled earlier');
    this.emit('pending', this.spool.size);
    this.loop = this.run();
  }

  /** Spools the alert (durably) and wakes the loop. Resolves false if its id was already spooled (no-op). */
  async enqueue(alert: Alert): Promise<boolean> {
    await this.spool.open();
    const added = await this.spool.enqueue(alert);
    if (added) {
      this.emit('pending', this.spool.size);
      this.wake?.();
    }
    return added;
  }

  /** Number of alerts not yet delivered (including one in flight). */
  get pending(): number {
    return this.spool.size;
  }

  /**
   * Resolves true once the spool is empty and nothing is in flight, false if that has not happened within
   * `timeoutMs`. Dead-lettered alerts count as gone.
   */
  flush(timeoutMs: number): Promise<boolean> {
    if (this.isIdle()) return Promise.resolve(true);
    return new Promise((resolve) => {
      const onIdle = (): void => {
        if (!this.isIdle()) return;
        clearTimeout(timer);
        this.off('idle', onIdle);
        resolve(true);
      };
      const timer = setTimeout(() => {
        this.off('idle', onIdle);
        resolve(this.isIdle());
      }, timeoutMs);
      this.on('idle', onIdle);
    });
  }

  /**
   * Stops the loop: an in-flight request is aborted (its alert stays spooled and is re-sent — same
   * webhook-id — by the next start), a backoff wait ends at once. A request already answered 2xx is still
   * recorded (afterDelivered tried once, then the spool) before stop() resolves.
   */
  async stop(): Promise<void> {
    this.abort.abort();
    this.wake?.();
    const loop = this.loop;
    this.loop = undefined;
    await loop;
  }

  private isIdle(): boolean {
    return this.spool.size === 0 && !this.busy;
  }

  private async run(): Promise<void> {
    const signal = this.abort.signal;
    while (!signal.aborted) {
      const id = this.spool.first();
      if (id === undefined) {
        this.emit('idle');
        await new Promise<void>((resolve) => {
          this.wake = resolve;
          if (signal.aborted || this.spool.size > 0) resolve();
        });
        this.wake = undefined;
        continue;
      }
      this.busy = true;
      try {
        await this.deliverOne(id, signal);
      } catch (err) {
        // Spool I/O trouble (disk full, permissions): keep the loop alive and try again later.
        this.log.error({ alertId: id, err: this.scrub(errorText(err)) }, 'webhook spool error; retrying');
        await sleep(this.maxMs, signal);
      } finally {
        this.busy = false;
      }
      this.emit('pending', this.spool.size);
    }
  }

  private async deliverOne(id: string, signal: AbortSignal): Promise<void> {
    let alert: Alert;
    try {
      alert = await this.spool.read(id);
    } catch (err) {
      if (!this.spool.has(id)) return; // erased meanwhile (Spool.eraseIdentity)
      const reason = `unreadable spool entry: ${errorText(err)}`;
      await this.dead(id, reason, undefined, signal);
      return;
    }
    const body = Buffer.from(JSON.stringify(alert), 'utf8');
    let deferrals = 0;
    for (let attempt = 1; !signal.aborted; ) {
      if (!this.spool.has(id)) {
        this.log.info({ alertId: id }, 'alert erased from the spool before delivery');
        return;
      }
      if (this.hooks.beforeSend) {
        let decision: SendDecision;
        let why = 'not cleared for sending yet';
        try {
          decision = await this.hooks.beforeSend(alert, this);
        } catch (err) {
          decision = 'retry-later';
          why = this.scrub(errorText(err));
        }
        if (signal.aborted) return;
        if (decision === 'skip') {
          await this.spool.markDelivered(id); // leaves the spool (and is remembered, so a re-enqueue is a no-op)
          this.log.debug({ alertId: id, camera: alert.camera }, 'alert skipped before sending');
          this.emit('skipped', { id });
          return;
        }
        if (decision === 'retry-later') {
          deferrals++;
          const retryInMs = Math.round(this.backoffMs(deferrals));
          this.emit('deferred', { id, error: why, retryInMs });
          const line = { alertId: id, error: why, retryInMs };
          if (deferrals === 1) this.log.warn(line, 'alert not sent yet; will ask again');
          else this.log.debug(line, 'alert still not sent; will ask again');
          await sleep(retryInMs, signal);
          continue;
        }
        deferrals = 0;
      }
      const outcome = await this.attempt(id, body, signal);
      // A 2xx is recorded even when stop() came meanwhile: forgetting it would re-send the alert on the next start.
      if (outcome.kind === 'delivered') {
        // The hook runs before the spool forgets the alert: if it never succeeds (stop()), the alert stays spooled.
        if (this.hooks.afterDelivered && !(await this.persist('after-delivery hook', id, () => this.hooks.afterDelivered!(alert, this), signal))) return;
        await this.spool.markDelivered(id);
        this.log.debug({ alertId: id, camera: alert.camera, attempts: attempt }, 'alert delivered');
        this.emit('delivered', { id, attempts: attempt, status: outcome.status });
        return;
      }
      if (signal.aborted) return;
      if (outcome.kind === 'client-error' && attempt >= this.maxClientErrorAttempts) {
        const reason = `${outcome.error} after ${attempt} attempts`;
        this.emit('attempt-failed', { id, attempt, status: outcome.status, error: outcome.error });
        await this.dead(id, reason, alert, signal);
        return;
      }
      const backoff = this.backoffMs(attempt);
      const retryAfter = outcome.kind === 'retry' ? outcome.retryAfterMs : undefined;
      const retryInMs = Math.round(retryAfter !== undefined ? Math.max(backoff, retryAfter) : backoff);
      this.emit('attempt-failed', { id, attempt, status: outcome.status, error: outcome.error, retryInMs });
      this.log.warn({ alertId: id, attempt, status: outcome.status, error: outcome.error, retryInMs }, 'webhook delivery failed; will retry');
      await sleep(retryInMs, signal);
      attempt++;
    }
  }

  /** beforeDead hook (persistently), then dead/ and the 'dead' event; a no-op when stopped first. */
  private async dead(id: string, reason: string, alert: Alert | undefined, signal: AbortSignal): Promise<void> {
    if (this.hooks.beforeDead && !(await this.persist('dead-letter hook', id, () => this.hooks.beforeDead!(id, reason, alert, this), signal))) return;
    await this.spool.markDead(id, reason);
    this.log.error({ alertId: id, camera: alert?.camera, reason }, 'alert dead-lettered');
    this.emit('dead', { id, reason });
  }

  /** Runs `fn` (at least once, even after stop()) until it succeeds, with backoff between tries; false when stopped first. */
  private async persist(what: string, id: string, fn: () => void | Promise<void>, signal: AbortSignal): Promise<boolean> {
    for (let tries = 1; ; tries++) {
      try {
        await fn();
        return true;
      } catch (err) {
        if (signal.aborted) return false;
        const retryInMs = Math.round(this.backoffMs(tries));
        this.log.warn({ alertId: id, error: this.scrub(errorText(err)), retryInMs }, `${what} failed; will retry`);
        await sleep(retryInMs, signal);
      }
    }
  }

  private async attempt(id: string, body: Buffer, stop: AbortSignal): Promise<Outcome> {
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'user-agent': 'facestream-webhook/1',
      ...webhookHeaders(this.secrets, id, body),
    };
    if (this.authorization) headers.authorization = this.authorization;
    const timeout = AbortSignal.timeout(this.timeoutMs);
    try {
      const res = await fetch(this.target, {
        method: 'POST',
        headers,
        body,
        redirect: 'manual',
        signal: AbortSignal.any([stop, timeout]),
      });
      await res.body?.cancel().catch(() => undefined);
      const s = res.status;
      if (s >= 200 && s < 300) return { kind: 'delivered', status: s };
      const error = `HTTP ${s}`;
      if (s >= 500 || s === 408 || s === 429) {
        return { kind: 'retry', status: s, error, retryAfterMs: this.retryAfterMs(res.headers.get('retry-after')) };
      }
      return { kind: 'client-error', status: s, error };
    } catch (err) {
      if (timeout.aborted && !stop.aborted) return { kind: 'retry', error: `timeout after ${this.timeoutMs} ms` };
      return { kind: 'retry', error: this.scrub(errorText(err)) };
    }
  }

  /** Exponential, capped, with "equal jitter" (half fixed, half random): never ~0, never in lock-step. */
  private backoffMs(attempt: number): number {
    const base = Math.min(this.maxMs, this.initialMs * Math.pow(this.multiplier, attempt - 1));
    return base / 2 + (this.random() * base) / 2;
  }

  private retryAfterMs(header: string | null): number | undefined {
    if (!header) return undefined;
    let ms: number;
    if (/^\s*\d+\s*$/.test(header)) ms = Number(header) * 1000;
    else {
      const at = Date.parse(header);
      if (Number.isNaN(at)) return undefined;
      ms = at - Date.now();
    }
    return Math.min(Math.max(0, ms), this.maxRetryAfterMs);
  }

  private scrub(text: string): string {
    let out = text.split(this.rawUrl).join(this.maskedUrl);
    for (const s of this.secretStrings) out = out.split(s).join('***');
    return out;
  }
}

function errorText(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = (err as Error & { cause?: unknown }).cause;
  if (cause instanceof Error) {
    const code = (cause as NodeJS.ErrnoException).code;
    return `${err.message}: ${code ? `${code} ` : ''}${cause.message}`;
  }
  return err.message;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}
