/**
 * The API's access to the gallery, the same for both modes:
 *   embedded    the local store directory (store.ts): one file, rewritten atomically on every change
 *   distributed the Redis gallery (redis-store.ts): compare-and-set commits; each commit publishes a new version,
 *               so every matcher service swaps to it
 *
 * - Writes are serialised within the process (one read-modify-write at a time) and each re-reads the store, so a
 *   change made meanwhile by the CLI or another API process is never overwritten (Redis: compare-and-set, retried).
 * - recognize uses matcher(): a ModelHolder trained (in a worker thread, as the stream's matcher does) on the
 *   current stored gallery; after a change it waits for the retrained model, so a recognize that follows an
 *   enrolment or an erasure answers with the new gallery, never the old one.
 * - erase(id) removes the identity from the store (local file rewritten without its rows; Redis: its key, its model
 *   row and watchlist entries deleted and a new version published), then drops every in-memory copy: the cached
 *   gallery is replaced and the old model snapshot is swapped out before erase() returns.
 * - onChange listeners (e.g. the embedded runtime in the same process) get every gallery this process saved.
 */
import { promises as fs } from 'node:fs';
import type { Gallery } from '../match/gallery';
import { removeIdentity } from '../match/gallery';
import { openRedisGallery, type RedisGallery } from '../match/redis-store';
import { openStore, type GalleryStore } from '../match/store';
import { ModelHolder, type Snapshot } from '../match/trainer';
import type { Logger } from '../util/log';

export interface GalleryAccess {
  readonly mode: 'embedded' | 'distributed';
  /** The store directory, or the masked Redis URL. */
  readonly where: string;
  /** The stored gallery (undefined when nothing was enrolled yet). */
  read(): Promise<Gallery | undefined>;
  /**
   * Serialised read-modify-write. `fn` gets the stored gallery, or a new empty one for the configured embedder when
   * none is stored. Returning `undefined` for `gallery` saves nothing.
   */
  update<T>(fn: (g: Gallery) => { gallery?: Gallery; result: T }): Promise<T>;
  /** Erasure of one identity from the store and every in-memory copy; returns the new gallery version. */
  erase(id: string): Promise<number>;
  /** The trained matcher of the current stored gallery (undefined when nothing is enrolled). */
  matcher(): Promise<Snapshot | undefined>;
  /** Whether any in-memory copy (cached gallery, model snapshot) still holds this identity. For erasure checks. */
  holdsInMemory(id: string): boolean;
  onChange(listener: (gallery: Gallery) => void): void;
  /** Readiness: can the store be read. */
  check(): Promise<{ ok: boolean; detail: string }>;
  close(): Promise<void>;
}

export interface GalleryAccessOptions {
  log: Logger;
  /** A new empty gallery for the configured embedder (when a write finds nothing stored). */
  createEmpty: () => Promise<Gallery>;
  /** Applied to every gallery before matching (config matching.svm / matching.distance overrides). */
  thresholds?: (g: Gallery) => Gallery;
  /** Train on the calling thread (tests). */
  inThread?: boolean;
}

abstract class BaseAccess implements GalleryAccess {
  abstract readonly mode: 'embedded' | 'distributed';
  abstract readonly where: string;
  protected cached: Gallery | undefined;
  private readonly holder: ModelHolder;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly listeners: ((g: Gallery) => void)[] = [];
  private trainedFor: Gallery | undefined;

  constructor(protected readonly opts: GalleryAccessOptions) {
    this.holder = new ModelHolder({ inThread: opts.inThread });
    this.holder.on('train-error', (e: Error) => opts.log.error({ err: e.message }, 'gallery retraining failed; recognize continues on the previous model'));
  }

  /** Reads the stored gallery, refreshing the cache. */
  protected abstract load(): Promise<Gallery | undefined>;
  /** Read-modify-write of the stored gallery; `change` returns undefined to save nothing. Returns what was saved. */
  protected abstract commit(change: (stored: Gallery | undefined) => Promise<Gallery | undefined>): Promise<Gallery | undefined>;
  protected abstract removeFromStore(id: string): Promise<Gallery>;
  protected abstract closeStore(): Promise<void>;

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  async read(): Promise<Gallery | undefined> {
    return this.load();
  }

  update<T>(fn: (g: Gallery) => { gallery?: Gallery; result: T }): Promise<T> {
    return this.serial(async () => {
      let result: T | undefined;
      const saved = await this.commit(async (stored) => {
        const out = fn(stored ?? (await this.opts.createEmpty()));
        result = out.result;
        return out.gallery;
      });
      if (saved) this.changed(saved);
      return result as T;
    });
  }

  erase(id: string): Promise<number> {
    return this.serial(async () => {
      const next = await this.removeFromStore(id);
      this.changed(next);
      // Swap the old model snapshot (which holds the identity's embeddings) out before answering.
      if (this.holder.current()) await this.holder.ready.catch(() => undefined);
      return next.version;
    });
  }

  private changed(g: Gallery): void {
    this.cached = g;
    this.trainedFor = g;
    this.holder.requestRetrain(this.opts.thresholds ? this.opts.thresholds(g) : g);
    for (const l of this.listeners) {
      try {
        l(g);
      } catch (e) {
        this.opts.log.error({ err: (e as Error).message }, 'gallery change listener failed');
      }
    }
  }

  async matcher(): Promise<Snapshot | undefined> {
    const g = await this.load();
    if (!g || g.identities.length === 0) return undefined;
    if (this.trainedFor !== g) {
      this.trainedFor = g;
      this.holder.requestRetrain(this.opts.thresholds ? this.opts.thresholds(g) : g);
    }
    return this.holder.ready;
  }

  holdsInMemory(id: string): boolean {
    const inGallery = (g: Gallery | undefined) => !!g?.identities.some((i) => i.id === id);
    const snap = this.holder.current();
    return inGallery(this.cached) || inGallery(this.trainedFor) || inGallery(snap?.gallery) || !!snap?.model.shape.ids.includes(id);
  }

  onChange(listener: (gallery: Gallery) => void): void {
    this.listeners.push(listener);
  }

  async check(): Promise<{ ok: boolean; detail: string }> {
    try {
      const g = await this.load();
      return { ok: true, detail: g ? `gallery v${g.version}, ${g.identities.length} identities` : 'no gallery yet' };
    } catch (e) {
      return { ok: false, detail: (e as Error).message };
    }
  }

  async close(): Promise<void> {
    await this.queue.catch(() => undefined);
    await this.holder.close();
    await this.closeStore();
  }
}

class LocalAccess extends BaseAccess {
  readonly mode = 'embedded' as const;
  private stamp = '';
  constructor(
    private readonly store: GalleryStore,
    opts: GalleryAccessOptions,
  ) {
    super(opts);
  }
  get where() {
    return this.store.dir;
  }
  protected async load(): Promise<Gallery | undefined> {
    // Re-read only when the file changed (the CLI or another process may write it).
    const st = await fs.stat(this.store.file).catch((e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') return undefined;
      throw e;
    });
    const stamp = st ? `${st.mtimeMs}:${st.size}:${st.ino}` : 'none';
    if (stamp !== this.stamp || (st && !this.cached)) {
      this.cached = st ? await this.store.load() : undefined;
      this.stamp = stamp;
    }
    return this.cached;
  }
  protected async commit(change: (stored: Gallery | undefined) => Promise<Gallery | undefined>): Promise<Gallery | undefined> {
    const next = await change(await this.load());
    return next && this.save(next);
  }
  private async save(next: Gallery): Promise<Gallery> {
    await this.store.save(next);
    this.stamp = '';
    this.cached = next;
    await this.load();
    return next;
  }
  protected async removeFromStore(id: string): Promise<Gallery> {
    const g = await this.load();
    if (!g) throw new Error(`unknown identity "${id}"`);
    return this.save(removeIdentity(g, id));
  }
  protected async closeStore(): Promise<void> {}
}

class RedisAccess extends BaseAccess {
  readonly mode = 'distributed' as const;
  private version = -1;
  constructor(
    private readonly store: RedisGallery,
    opts: GalleryAccessOptions,
  ) {
    super(opts);
  }
  get where() {
    return this.store.url;
  }
  protected async load(): Promise<Gallery | undefined> {
    const head = await this.store.head();
    if (!head) return (this.cached = undefined);
    if (this.cached && head.version === this.version) return this.cached;
    const stored = await this.store.load();
    this.cached = stored?.gallery;
    this.version = stored?.version ?? -1;
    return this.cached;
  }
  protected async commit(change: (stored: Gallery | undefined) => Promise<Gallery | undefined>): Promise<Gallery | undefined> {
    // store.update is a compare-and-set, re-run on the newer gallery when another writer got in first; it keeps
    // the stored model when the identities are untouched (watchlist changes).
    const NO_CHANGE = Symbol('no change');
    try {
      const stored = await this.store.update(async (cur) => {
        const next = await change(cur?.gallery);
        if (!next) throw NO_CHANGE;
        return next;
      });
      this.cached = stored.gallery;
      this.version = stored.version;
      return stored.gallery;
    } catch (e) {
      if (e === NO_CHANGE) return undefined;
      throw e;
    }
  }
  protected async removeFromStore(id: string): Promise<Gallery> {
    await this.store.deleteIdentity(id);
    this.version = -1;
    const g = await this.load();
    if (!g) throw new Error('the Redis gallery disappeared during erasure');
    return g;
  }
  protected async closeStore(): Promise<void> {
    await this.store.close();
  }
}

export async function localGalleryAccess(dir: string, opts: GalleryAccessOptions): Promise<GalleryAccess> {
  return new LocalAccess(await openStore(dir), opts);
}

export function redisGalleryAccess(url: string, prefix: string, opts: GalleryAccessOptions): GalleryAccess {
  return new RedisAccess(openRedisGallery(url, { prefix, log: opts.log }), opts);
}
