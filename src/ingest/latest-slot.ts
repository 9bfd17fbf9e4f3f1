/**
 * A one-item mailbox: the producer overwrites, the consumer takes the newest. Used so a slow analysis stage always
 * works on the most recent frame and never builds a backlog (a queue would grow without bound and add latency).
 */
export class LatestSlot<T> {
  private value: T | undefined;
  private has = false;
  private closed = false;
  private waiter: ((r: IteratorResult<T, undefined>) => void) | undefined;

  /** Offer a value; returns true when it overwrote one that was never taken (a drop). */
  put(value: T): boolean {
    if (this.closed) return false;
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = undefined;
      w({ value, done: false });
      return false;
    }
    const dropped = this.has;
    this.value = value;
    this.has = true;
    return dropped;
  }

  /** The newest value not taken yet, waiting for one if needed; done once closed (and drained, if asked). */
  take(): Promise<IteratorResult<T, undefined>> {
    if (this.has) {
      const value = this.value as T;
      this.value = undefined;
      this.has = false;
      return Promise.resolve({ value, done: false });
    }
    if (this.closed) return Promise.resolve({ value: undefined, done: true });
    if (this.waiter) return Promise.reject(new Error('LatestSlot: only one take() may wait at a time'));
    return new Promise((resolve) => {
      this.waiter = resolve;
    });
  }

  /** No more values. With drain, a value still held is handed out before the end; otherwise it is discarded. */
  close(drain: boolean): void {
    this.closed = true;
    if (!drain) {
      this.value = undefined;
      this.has = false;
    }
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = undefined;
      w({ value: undefined, done: true });
    }
  }

  get isClosed(): boolean {
    return this.closed;
  }

  get holding(): boolean {
    return this.has;
  }
}
