/**
 * GalleryFollower: a matcher's in-memory copy of the Redis gallery (+ model), kept current.
 *
 * - Learns of new versions from the store's watch() (pub/sub notices, plus the stored version read after
 *   every (re)subscription, which covers notices missed while disconnected) and from a slow poll of the
 *   head (a safety net; faster while degraded, to catch up soon after Redis returns).
 * - A notice for a version it already has (same epoch, version <= current) is ignored without a round
 *   trip. Otherwise it reads the head and, when that differs from its copy, loads the whole gallery.
 *   Reloads never overlap; notices arriving meanwhile coalesce into one more check afterwards.
 * - Swaps atomically: current() returns one frozen snapshot reference, replaced in one assignment
 *   after the new gallery and model are fully decoded, so readers never see a half-loaded gallery.
 * - Redis down (or a reload failing, or Redis holding no gallery any more): keeps serving its copy and
 *   reports degraded (health() for /readyz); it catches up as soon as Redis answers again. What Redis
 *   holds is the truth: after a restart that lost data (older version, or a new epoch after a wipe and a
 *   new save) the follower adopts the stored gallery.
 *
 * Events: 'swap' (snapshot, previous | undefined), 'degraded' (reason), 'recovered' ().
 */
import { EventEmitter } from 'node:events';
import type { Gallery } from '../gallery';
import type { SvmModel } from '../svm';
import type { Logger } from '../../util/log';
import { logger } from '../../util/log';
import type { GalleryHead, RedisGallery, VersionNotice } from '../redis-store';

export type SwapReason = 'start' | 'notice' | 'resync' | 'poll';

export interface GallerySnapshot {
  readonly gallery: Gallery;
  readonly model?: SvmModel;
  readonly version: number;
  readonly epoch: string;
  /** Date.now() when it was swapped in. */
  readonly loadedAt: number;
  /** What led to this load. */
  readonly reason: SwapReason;
}

export interface FollowerOptions {
  /** Head poll while healthy, ms (default 15000; 0 disables polling). */
  pollMs?: number;
  /** Head poll while degraded, ms (default 1000). */
  retryMs?: number;
  /** A head read taking longer counts as Redis unreachable, ms (default 10000). */
  checkTimeoutMs?: number;
  /** A full reload taking longer fails (and is retried), ms (default 120000). */
  loadTimeoutMs?: number;
  log?: Logger;
}

export interface FollowerHealth {
  /** Serving a gallery (possibly an old copy while degraded). */
  ok: boolean;
  degraded: boolean;
  version?: number;
  detail: string;
}

export class GalleryFollower extends EventEmitter {
  private snap: GallerySnapshot | undefined;
  private degradedReason: string | undefined;
  private pending: SwapReason | undefined;
  private running = false;
  private done: Promise<void> = Promise.resolve();
  private unwatch: (() => void) | undefined;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly pollMs: number;
  private readonly retryMs: number;
  private readonly checkTimeoutMs: number;
  private readonly loadTimeoutMs: number;
  private readonly log: Logger;
  readonly stats = { notices: 0, ignored: 0, resyncs: 0, checks: 0, loads: 0, swaps: 0, failures: 0 };

  constructor(
    private readonly store: RedisGallery,
    options: FollowerOptions = {},
  ) {
    super();
    this.pollMs = options.pollMs ?? 15_000;
    this.retryMs = options.retryMs ?? 1000;
    this.checkTimeoutMs = options.checkTimeoutMs ?? 10_000;
    this.loadTimeoutMs = options.loadTimeoutMs ?? 120_000;
    this.log = (options.log ?? logger()).child({ component: 'gallery-follower' });
  }

  /** Subscribes and makes a first check; resolves with the snapshot (undefined when none could be loaded yet). */
  async start(): Promise<GallerySnapshot | undefined> {
    if (this.closed) throw new Error('GalleryFollower is closed');
    if (!this.unwatch) {
      this.unwatch = this.store.watch((v, n) => this.onVersion(v, n), {
        onConnection: (up, error) => {
          if (!up) this.setDegraded(`redis connection lost${error ? ` (${error.message})` : ''}`);
        },
      });
    }
    await this.request('start');
    return this.snap;
  }

  /** The snapshot in use (undefined until the first load). */
  current(): GallerySnapshot | undefined {
    return this.snap;
  }

  get degraded(): boolean {
    return this.degradedReason !== undefined;
  }

  health(): FollowerHealth {
    const s = this.snap;
    if (this.degradedReason !== undefined) {
      return { ok: s !== undefined, degraded: true, version: s?.version, detail: s ? `serving gallery v${s.version}; ${this.degradedReason}` : this.degradedReason };
    }
    if (!s) return { ok: false, degraded: false, detail: 'no gallery in redis yet' };
    return { ok: true, degraded: false, version: s.version, detail: `gallery v${s.version}${s.model ? '' : ' (no stored model)'}` };
  }

  /** Resolves with the first snapshot satisfying `pred` (checked now and on every swap). */
  waitFor(pred: (s: GallerySnapshot) => boolean, timeoutMs = 10_000): Promise<GallerySnapshot> {
    if (this.snap && pred(this.snap)) return Promise.resolve(this.snap);
    return new Promise((resolve, reject) => {
      const onSwap = (s: GallerySnapshot) => {
        if (!pred(s)) return;
        clearTimeout(t);
        this.off('swap', onSwap);
        resolve(s);
      };
      const t = setTimeout(() => {
        this.off('swap', onSwap);
        reject(new Error(`gallery follower: no matching snapshot within ${timeoutMs} ms (at ${this.snap ? `v${this.snap.version}` : 'none'}; ${this.health().detail})`));
      }, timeoutMs);
      this.on('swap', onSwap);
    });
  }

  /** Checks the stored version now (and reloads when it differs); resolves when done. */
  refresh(): Promise<void> {
    return this.request('poll');
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.unwatch?.();
    this.unwatch = undefined;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private onVersion(version: number, notice: VersionNotice): void {
    if (notice.resync) {
      this.stats.resyncs++;
      void this.request('resync');
      return;
    }
    this.stats.notices++;
    const s = this.snap;
    if (s && notice.epoch === s.epoch && version <= s.version && !this.degraded) {
      this.stats.ignored++; // duplicate or stale notice
      return;
    }
    void this.request('notice');
  }

  private request(reason: SwapReason): Promise<void> {
    if (this.closed) return Promise.resolve();
    // A resync/start outranks a poll or notice as the recorded reason; any of them triggers one check.
    if (this.pending === undefined || reason === 'resync' || reason === 'start') this.pending = reason;
    if (!this.running) {
      this.running = true;
      this.done = this.pump();
    }
    return this.done;
  }

  private async pump(): Promise<void> {
    try {
      while (this.pending !== undefined && !this.closed) {
        const reason = this.pending;
        this.pending = undefined;
        await this.check(reason);
      }
    } finally {
      this.running = false; // synchronously after the loop: a request() from now on starts a new pump
      this.schedulePoll();
    }
  }

  private schedulePoll(): void {
    if (this.closed) return;
    if (this.timer) clearTimeout(this.timer);
    const ms = this.degraded ? this.retryMs : this.pollMs;
    if (ms <= 0) return;
    this.timer = setTimeout(() => void this.request('poll'), ms).unref();
  }

  private async check(reason: SwapReason): Promise<void> {
    this.stats.checks++;
    let head: GalleryHead | undefined;
    try {
      head = await withTimeout(this.store.head(), this.checkTimeoutMs, 'reading the version');
    } catch (e) {
      this.fail(`redis unreachable (${(e as Error).message})`);
      return;
    }
    const s = this.snap;
    if (!head) {
      if (s) this.setDegraded(`redis holds no gallery (wiped, or not persisted across a restart?); keeping v${s.version}`);
      else this.setHealthy();
      return;
    }
    if (s && head.epoch === s.epoch && head.version === s.version) {
      this.setHealthy();
      return;
    }
    let loaded;
    try {
      this.stats.loads++;
      loaded = await withTimeout(this.store.load(), this.loadTimeoutMs, 'loading the gallery');
    } catch (e) {
      this.fail(`reload failed (${(e as Error).message})`);
      return;
    }
    if (this.closed) return;
    const now = this.snap;
    if (!loaded) {
      if (now) this.setDegraded(`redis holds no gallery (wiped, or not persisted across a restart?); keeping v${now.version}`);
      return;
    }
    if (!(now && loaded.epoch === now.epoch && loaded.version === now.version)) {
      const next: GallerySnapshot = Object.freeze({
        gallery: loaded.gallery,
        ...(loaded.model ? { model: loaded.model } : {}),
        version: loaded.version,
        epoch: loaded.epoch,
        loadedAt: Date.now(),
        reason,
      });
      this.snap = next; // the swap: one reference assignment
      this.stats.swaps++;
      this.log.info(
        { galleryVersion: next.version, previousVersion: now?.version, identities: next.gallery.identities.length, model: next.model !== undefined, reason },
        'gallery swapped in from redis',
      );
      this.emit('swap', next, now);
    }
    this.setHealthy();
  }

  private fail(reason: string): void {
    this.stats.failures++;
    this.setDegraded(reason);
  }

  private setDegraded(reason: string): void {
    if (this.closed) return;
    const was = this.degradedReason;
    this.degradedReason = reason;
    if (was === undefined) {
      this.log.warn({ galleryVersion: this.snap?.version, reason }, 'gallery follower degraded: serving its last copy');
      this.emit('degraded', reason);
      this.schedulePoll();
    }
  }

  private setHealthy(): void {
    if (this.degradedReason === undefined) return;
    this.degradedReason = undefined;
    this.log.info({ galleryVersion: this.snap?.version }, 'gallery follower recovered');
    this.emit('recovered');
  }
}

/** The promise's outcome, or a rejection after `ms` (the operation itself is read-only: left to finish). */
function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let t: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    t = setTimeout(() => reject(new Error(`${what} took more than ${ms} ms`)), ms);
  });
  p.catch(() => undefined); // a late rejection after the timeout is not unhandled
  return Promise.race([p, timeout]).finally(() => clearTimeout(t));
}
