/**
 * Alert cooldown per (identity, camera) shared through Redis, so it survives a camera's partition moving to another
 * match process (or a restart). The window starts AFTER the alert is published (mark()), never before: a process
 * that dies between the decision and the publish must not leave a window that suppresses the alert it never sent
 * (the replayed record then publishes it, with the same deterministic id, which the alerts service de-duplicates).
 *
 * Redis key `{prefix}cooldown:{camera}:{identity}` = the alert id, set with SET NX PX window. Every window this
 * process starts is also kept in memory (src/alerts/cooldown.ts), and that is all that is used while Redis is
 * unreachable: commands fail fast (no offline queue, a short timeout) instead of stalling the stream.
 */
import { Redis, type RedisOptions } from 'ioredis';
import { Cooldown } from '../../alerts/cooldown';
import type { Logger } from '../../util/log';
import { maskUrl } from '../../util/redact';

export interface SharedCooldownOptions {
  /** redis:// or rediss:// URL; absent: memory only. */
  url?: string;
  /** Key prefix (config redis.prefix). */
  prefix: string;
  windowMs: number;
  log: Logger;
  /** Per-command timeout, ms (default 1000). */
  commandTimeoutMs?: number;
  redisOptions?: RedisOptions;
}

export class SharedCooldown {
  private readonly memory: Cooldown;
  private readonly redis: Redis | undefined;
  private readonly url: string;
  private lastError = '';
  readonly stats = { redisChecks: 0, redisFailures: 0, suppressed: 0, marked: 0 };

  constructor(private readonly options: SharedCooldownOptions) {
    this.memory = new Cooldown({ windowMs: options.windowMs });
    this.url = options.url ? maskUrl(options.url) : '';
    if (options.url && options.windowMs > 0) {
      this.redis = new Redis(options.url, {
        enableOfflineQueue: false,
        maxRetriesPerRequest: 0,
        commandTimeout: options.commandTimeoutMs ?? 1000,
        connectTimeout: 3000,
        retryStrategy: (times) => Math.min(100 * 2 ** Math.min(times, 5), 2000),
        ...options.redisOptions,
      });
      // Only the message (a connection error names host and port, never the password) and only once per distinct one.
      this.redis.on('error', (e: unknown) => this.note(e));
      this.redis.on('ready', () => {
        if (this.lastError) options.log.info({ url: this.url }, 'cooldown: redis connection restored');
        this.lastError = '';
      });
    }
  }

  /** Whether Redis answers now (else windows are kept in memory only). */
  get shared(): boolean {
    return this.redis?.status === 'ready';
  }

  health(): { ok: boolean; detail: string } {
    if (!this.redis) return { ok: true, detail: this.options.windowMs > 0 ? 'in memory (no redis)' : 'disabled' };
    return this.shared ? { ok: true, detail: 'shared in redis' } : { ok: true, detail: `redis unreachable (${this.lastError || this.redis.status}): in memory only` };
  }

  /** True while an alert for the identity on the camera would fall within a window started earlier. */
  async active(identityId: string, camera: string): Promise<boolean> {
    if (this.options.windowMs <= 0) return false;
    if (this.memory.remainingMs(identityId, camera) > 0) return true;
    if (!this.redis) return false;
    try {
      this.stats.redisChecks++;
      // -2: no key; -1: a key without expiry (not ours, but a window all the same); > 0: ms left.
      const ttl = await this.redis.pttl(this.key(identityId, camera));
      return ttl > 0 || ttl === -1;
    } catch (err) {
      this.stats.redisFailures++;
      this.note(err);
      return false;
    }
  }

  /** Starts the window, after the alert was published. Never throws (Redis trouble: memory only). */
  async mark(identityId: string, camera: string, alertId: string): Promise<void> {
    if (this.options.windowMs <= 0) return;
    this.stats.marked++;
    this.memory.tryAcquire(identityId, camera);
    if (!this.redis) return;
    try {
      await this.redis.set(this.key(identityId, camera), alertId, 'PX', this.options.windowMs, 'NX');
    } catch (err) {
      this.stats.redisFailures++;
      this.note(err);
    }
  }

  close(): void {
    this.redis?.disconnect();
  }

  key(identityId: string, camera: string): string {
    return `${this.options.prefix}cooldown:${camera}:${identityId}`;
  }

  private note(e: unknown): void {
    const msg = e instanceof Error ? e.message : String(e);
    if (msg === this.lastError) return;
    this.lastError = msg;
    this.options.log.warn({ url: this.url, error: msg }, 'cooldown: redis unavailable, windows kept in memory');
  }
}
