/**
 * Reconnect delays: exponential, capped, with proportional jitter so that a thousand cameras dropped by the same
 * network blip do not all reconnect in the same millisecond.
 *
 * Hand-written rather than the `exponential-backoff` package: that wraps a promise-returning call in a retry loop
 * whose sleeps cannot be cancelled (stop() would hang up to maxMs) and offers only "full" jitter; the camera loop
 * needs a cancellable sleep, ±20% jitter, and a reset after each successful session. The formula is one line.
 */
export interface BackoffOptions {
  /** First delay, in ms. */
  readonly initialMs: number;
  /** Upper bound of any delay (after jitter), in ms. */
  readonly maxMs: number;
  /** Growth per failed attempt. */
  readonly factor: number;
  /** Relative jitter: the delay is drawn uniformly from base·(1 ± jitter). */
  readonly jitter: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { initialMs: 1000, maxMs: 30000, factor: 2, jitter: 0.2 };

/** Delay before retry number `attempt` (0-based: the first retry after a failure is attempt 0). */
export function backoffDelay(attempt: number, o: BackoffOptions, random: () => number = Math.random): number {
  const base = Math.min(o.maxMs, o.initialMs * Math.pow(o.factor, Math.max(0, attempt)));
  const jittered = base * (1 + o.jitter * (2 * random() - 1));
  return Math.round(Math.max(0, Math.min(o.maxMs, jittered)));
}

export function validateBackoff(o: BackoffOptions): void {
  const bad = (what: string): never => {
    throw new RangeError(`backoff: ${what}, got ${JSON.stringify(o)}`);
  };
  if (!(o.initialMs >= 0) || !Number.isFinite(o.initialMs)) bad('initialMs must be a finite number >= 0');
  if (!(o.maxMs >= o.initialMs) || !Number.isFinite(o.maxMs)) bad('maxMs must be finite and >= initialMs');
  if (!(o.factor >= 1) || !Number.isFinite(o.factor)) bad('factor must be >= 1');
  if (!(o.jitter >= 0 && o.jitter < 1)) bad('jitter must be in [0, 1)');
}
