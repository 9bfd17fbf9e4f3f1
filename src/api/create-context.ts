/**
 * The API's context for a configuration:
 *   embedded     config.store is a directory: gallery store, api-keys.json, api-identities.json, audit.jsonl there
 *   distributed  config.store is redis://… or config.redis.url is set (and no store directory was asked for):
 *                the Redis gallery, keys hash, identities hash and audit stream under config.redis.prefix
 */
import type { Config } from '../config/schema';
import { createGallery, defaultThresholds, type Gallery } from '../match/gallery';
import { isRedisStoreUrl } from '../match/redis-gallery-store';
import { ModelRegistry } from '../models/registry';
import { logger, type Logger } from '../util/log';
import { fileAuditLog, redisAuditLog } from './audit/audit-log';
import { fileKeyStore, redisKeyStore, type KeyStore } from './auth/keys';
import type { ApiContext } from './context';
import { createFaceService, type FaceService } from './faces';
import { localGalleryAccess, redisGalleryAccess } from './gallery-access';
import { fileIdentityDirectory, redisIdentityDirectory } from './identity-directory';
import { openApiRedis, type ApiRedis } from './redis-client';

export type ApiBackend = { mode: 'embedded'; dir: string } | { mode: 'distributed'; url: string };

/** Where the API keeps its data. `storeGiven`: --store was passed (a directory then wins over redis.url). */
export function apiBackend(config: Config, storeGiven = false): ApiBackend {
  if (isRedisStoreUrl(config.store)) return { mode: 'distributed', url: config.store };
  if (config.redis.url && !storeGiven) return { mode: 'distributed', url: config.redis.url };
  return { mode: 'embedded', dir: config.store };
}

/** The key store alone (the `keys` command). */
export function openKeyStore(config: Config, storeGiven = false, log: Logger = logger()): { keys: KeyStore; close(): Promise<void> } {
  const b = apiBackend(config, storeGiven);
  if (b.mode === 'embedded') return { keys: fileKeyStore(b.dir), close: async () => undefined };
  const redis = openApiRedis(b.url, log, 'api keys redis');
  return { keys: redisKeyStore(redis, config.redis.prefix), close: () => redis.close() };
}

export interface ApiContextOptions {
  log?: Logger;
  storeGiven?: boolean;
  /** Detector + embedder (default: opened from the config's models on first use). */
  faces?: FaceService;
  /** Train SVMs on the calling thread (tests). */
  inThreadTraining?: boolean;
}

export interface OwnedApiContext extends ApiContext {
  /** The API's own Redis connection in distributed mode (rate limits share it). */
  redis?: ApiRedis;
  /** Runs the onClose hooks (last first), then closes the stores. */
  close(): Promise<void>;
}

export async function createApiContext(config: Config, options: ApiContextOptions = {}): Promise<OwnedApiContext> {
  const log = (options.log ?? logger()).child({ component: 'api' });
  const backend = apiBackend(config, options.storeGiven);
  const createEmpty = async (): Promise<Gallery> => {
    const d = new ModelRegistry({ modelDir: config.modelDir }).get(config.embedder.name);
    if (d.kind !== 'embedder') throw new Error(`model "${config.embedder.name}" is a ${d.kind}, not an embedder`);
    return createGallery({ embedder: d.name, dim: d.output.size, metric: d.distance, thresholds: defaultThresholds(d.distance, d.defaultThreshold) });
  };
  const { svm, distance } = config.matching;
  const thresholds = svm === undefined && distance === undefined ? undefined : (g: Gallery): Gallery => ({ ...g, thresholds: { ...g.thresholds, ...(svm !== undefined ? { svm } : {}), ...(distance !== undefined ? { distance } : {}) } });
  const galleryOptions = { log, createEmpty, thresholds, inThread: options.inThreadTraining };
  const closers: (() => Promise<void> | void)[] = [];
  const faces = options.faces ?? createFaceService(config);

  let redis: ApiRedis | undefined;
  const base =
    backend.mode === 'embedded'
      ? {
          gallery: await localGalleryAccess(backend.dir, galleryOptions),
          identities: fileIdentityDirectory(backend.dir),
          audit: fileAuditLog(backend.dir),
          keys: fileKeyStore(backend.dir),
        }
      : (() => {
          redis = openApiRedis(backend.url, log);
          const prefix = config.redis.prefix;
          return {
            gallery: redisGalleryAccess(backend.url, prefix, galleryOptions),
            identities: redisIdentityDirectory(redis, prefix),
            audit: redisAuditLog(redis, prefix),
            keys: redisKeyStore(redis, prefix),
          };
        })();

  const ctx: OwnedApiContext = {
    config,
    log,
    mode: backend.mode,
    ...base,
    faces,
    redis,
    erasureHooks: [],
    readiness: new Map(),
    onClose: (fn) => closers.push(fn),
    async close() {
      for (const fn of closers.reverse()) {
        try {
          await fn();
        } catch (e) {
          log.error({ err: (e as Error).message }, 'API shutdown step failed');
        }
      }
      await base.gallery.close();
      await faces.close();
      await redis?.close();
    },
  };
  return ctx;
}
