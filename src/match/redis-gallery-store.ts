/**
 * The gallery commands' store (GalleryStore, as `--store DIR`) over the shared Redis gallery of distributed mode:
 * `--store redis://[user:password@]host:port[/db]` (or rediss://). enroll, watchlist and calibrate then read and
 * write what the match services follow.
 *
 * - save() stores the gallery WITH its SVM model, so matchers build their matcher at once instead of training: the
 *   model loaded with the gallery is kept when the identities are untouched (watchlist or threshold changes;
 *   gallery operations are immutable and keep the same identities array), else it is trained here.
 * - save() is a compare-and-set against the version load() read: a concurrent writer's change is never silently
 *   overwritten (the command fails and says so; run it again). A store never loaded saves only into an empty Redis.
 * - Each call opens its own connection and closes it before returning, so a command exits when its work is done
 *   (the CLI does not close stores). The price: a save writes every identity again (the Redis store skips unchanged
 *   identities only within one connection's life).
 * - The URL is only ever shown masked (`dir` and `file` hold the masked URL and the key prefix).
 */
import type { Gallery } from './gallery';
import { openRedisGallery, VersionConflictError, type RedisGalleryOptions } from './redis-store';
import type { GalleryStore } from './store';
import { trainGallery, type SvmModel, type SvmOptions } from './svm';
import { maskUrl } from '../util/redact';

/** True for a store value that names the Redis gallery (redis:// or rediss://) rather than a directory. */
export function isRedisStoreUrl(store: string): boolean {
  return /^rediss?:\/\//i.test(store);
}

export interface RedisGalleryStoreOptions extends Pick<RedisGalleryOptions, 'prefix' | 'log' | 'redisOptions'> {
  /** SVM options of the model trained on save (default: the SVM's defaults, as the matchers' trainer). */
  svm?: SvmOptions;
}

export interface RedisGalleryStore extends GalleryStore {
  /** Masked URL. */
  readonly url: string;
  /** Stored version after the last load() or save() (0: none stored). */
  readonly storedVersion: number | undefined;
  /** Whether the last save() trained the model (false: the loaded one was kept, or none was needed). */
  readonly trainedOnSave: boolean;
}

export function openRedisGalleryStore(url: string, options: RedisGalleryStoreOptions = {}): RedisGalleryStore {
  if (!isRedisStoreUrl(url)) throw new Error(`gallery store ${maskUrl(url)} is not a redis:// or rediss:// URL`);
  const masked = maskUrl(url);
  const prefix = options.prefix;
  const where = `${masked} (keys ${prefix ?? 'facestream:'}gallery:*)`;
  /** What load() or save() last saw: the CAS base of the next save, and the model that fits its identities. */
  let base: { version: number; epoch?: string; identities?: Gallery['identities']; model?: SvmModel } | undefined;
  let trainedOnSave = false;

  async function withGallery<T>(fn: (g: ReturnType<typeof openRedisGallery>) => Promise<T>): Promise<T> {
    const g = openRedisGallery(url, { prefix, log: options.log, redisOptions: options.redisOptions });
    try {
      return await fn(g);
    } finally {
      await g.close();
    }
  }

  return {
    dir: where,
    file: where,
    url: masked,
    get storedVersion() {
      return base?.version;
    },
    get trainedOnSave() {
      return trainedOnSave;
    },

    async load(): Promise<Gallery | undefined> {
      const stored = await withGallery((g) => g.load());
      if (!stored) {
        base = { version: 0 };
        return undefined;
      }
      base = { version: stored.version, epoch: stored.epoch, identities: stored.gallery.identities, model: stored.model };
      return stored.gallery;
    },

    async save(gallery: Gallery): Promise<void> {
      let model: SvmModel | undefined;
      trainedOnSave = false;
      if (base?.model && base.identities === gallery.identities) model = base.model;
      else {
        model = trainGallery(gallery, options.svm ?? {});
        trainedOnSave = true;
      }
      const expected = base ?? { version: 0 };
      let version: number;
      try {
        version = await withGallery((g) => g.save(gallery, model, { expectedVersion: expected.version, expectedEpoch: expected.epoch }));
      } catch (err) {
        if (err instanceof VersionConflictError) {
          throw new Error(
            `the gallery in ${where} changed since this command read it (stored version ${err.actual}, read ${err.expected}): ` +
              'another writer saved first; nothing was written, run the command again',
          );
        }
        throw err;
      }
      base = { version, epoch: expected.epoch, identities: gallery.identities, model };
    },
  };
}
