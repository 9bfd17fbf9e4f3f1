/**
 * Alert cooldown per (identity, camera): at most one alert per person per camera per window (default 60 s),
 * measured from the last alert sent. A track that keeps matching the same identity — or a person who leaves
 * and re-enters the view, getting a new track — does not re-alert within the window; the same person on
 * another camera does. Pure: no I/O, the clock is injected.
 */

export interface CooldownOptions {
  /** Window length in ms. Default 60 000. 0 disables the cooldown. */
  windowMs?: number;
  /** Clock (ms). Default Date.now. */
  now?: () => number;
}

export class Cooldown {
  readonly windowMs: number;
  private readonly now: () => number;
  /** key → time of the last alert; Map order = time order (entries are re-inserted on update). */
  private readonly last = new Map<string, number>();

  constructor(opts: CooldownOptions = {}) {
    this.windowMs = opts.windowMs ?? 60_000;
    if (!(this.windowMs >= 0) || !Number.isFinite(this.windowMs)) {
      throw new RangeError(`cooldown window must be a finite number of ms >= 0, got ${opts.windowMs}`);
    }
    this.now = opts.now ?? Date.now;
  }

  /**
   * Whether an alert for this identity on this camera may be sent now. If yes, the window starts now
   * (the caller is expected to send it); if no, nothing changes.
   */
  tryAcquire(identityId: string, camera: string, nowMs: number = this.now()): boolean {
    this.prune(nowMs);
    const key = keyOf(identityId, camera);
    const at = this.last.get(key);
    if (at !== undefined && nowMs - at < this.windowMs) return false;
    this.last.delete(key);
    this.last.set(key, nowMs);
    return true;
  }

  /** Ms until this identity may alert again on this camera (0 = now). */
  remainingMs(identityId: string, camera: string, nowMs: number = this.now()): number {
    const at = this.last.get(keyOf(identityId, camera));
    return at === undefined ? 0 : Math.max(0, this.windowMs - (nowMs - at));
  }

  /** Number of (identity, camera) pairs in cooldown. */
  get size(): number {
    return this.last.size;
  }

  /** Drops expired entries (oldest first; stops at the first live one), so memory stays bounded. */
  prune(nowMs: number = this.now()): void {
    for (const [key, at] of this.last) {
      if (nowMs - at < this.windowMs) break;
      this.last.delete(key);
    }
  }
}

function keyOf(identityId: string, camera: string): string {
  return JSON.stringify([identityId, camera]);
}
