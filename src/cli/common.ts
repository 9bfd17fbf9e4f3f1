/** Shared CLI plumbing: config loading with flag overrides, models, the gallery store. */
import { Command, InvalidArgumentError } from 'commander';
import { loadConfig } from '../config/load';
import type { Config, ConfigOverrides } from '../config/schema';
import { createDetector, type FaceDetector } from '../detect/detector';
import { Embedder } from '../embed/embedder';
import { createGallery, defaultThresholds, type Gallery } from '../match/gallery';
import { openStore, type GalleryStore } from '../match/store';
import { isRedisStoreUrl, openRedisGalleryStore } from '../match/redis-gallery-store';
import { ModelRegistry } from '../models/registry';
import { logger } from '../util/log';


/** commander parser of a TCP port option (0 = any free port). */
export function portOption(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError(`expected a port 0..65535, got "${value}"`);
  return n;
}
export interface CommonFlags {
  config?: string;
  store?: string;
  modelDir?: string;
  detector?: string;
  embedder?: string;
}

export function addCommonOptions(cmd: Command, { models = true } = {}): Command {
  cmd.option('--config <file>', 'YAML config file (default: $FACESTREAM_CONFIG)').option('--store <path>', 'gallery store directory, or redis://host:port[/db] (rediss:// for TLS) for the shared gallery of distributed mode');
  if (models) {
    cmd
      .option('--model-dir <dir>', 'extra directory with model files and *.model.json descriptors')
      .option('--detector <name>', 'detector model (default mtcnn)')
      .option('--embedder <name>', 'embedder model (default faceapi-resnet128)');
  }
  return cmd;
}

export function configFrom(flags: CommonFlags, extra: ConfigOverrides = {}): Config {
  const overrides: ConfigOverrides = {
    ...extra,
    ...(flags.store !== undefined ? { store: flags.store } : {}),
    ...(flags.modelDir !== undefined ? { modelDir: flags.modelDir } : {}),
    ...(flags.detector !== undefined ? { detector: { name: flags.detector } } : {}),
    ...(flags.embedder !== undefined ? { embedder: { name: flags.embedder } } : {}),
  };
  const config = loadConfig({ file: flags.config, overrides });
  logger().level = config.log.level;
  return config;
}

export interface Models {
  detector: FaceDetector;
  embedder: Embedder;
  close(): Promise<void>;
}

export async function openModels(config: Config): Promise<Models> {
  const registry = new ModelRegistry({ modelDir: config.modelDir });
  const detector = createDetector(registry.detector(config.detector.name), { maxWidth: config.detector.maxWidth, minFaceSize: config.detector.minFaceSize });
  const embedder = await Embedder.create(registry.embedder(config.embedder.name), {
    intraOpNumThreads: config.embedder.threads,
    executionProviders: config.embedder.executionProviders,
    maxBatch: config.embedder.maxBatch,
  });
  return {
    detector,
    embedder,
    async close() {
      await embedder.close();
      await detector.close?.();
    },
  };
}

/** Opens the store and loads its gallery, or a new empty one for this embedder. */
export async function openGallery(config: Config, embedder?: Embedder): Promise<{ store: GalleryStore; gallery: Gallery; created: boolean }> {
  // A redis:// store is the shared Redis gallery (distributed mode); its URL is only ever shown masked.
  const redis = isRedisStoreUrl(config.store) ? openRedisGalleryStore(config.store, { prefix: config.redis.prefix }) : undefined;
  const store: GalleryStore = redis ?? (await openStore(config.store));
  const where = redis?.dir ?? config.store;
  const existing = await store.load();
  if (existing) {
    if (embedder && existing.embedder !== embedder.descriptor.name) {
      throw new Error(`the gallery in ${where} holds "${existing.embedder}" embeddings, not "${embedder.descriptor.name}"; use --embedder ${existing.embedder} or another --store`);
    }
    return { store, gallery: existing, created: false };
  }
  if (!embedder) throw new Error(`no gallery in ${where}: enrol identities first (facestream enroll --gallery DIR --store ${redis?.url ?? config.store})`);
  const d = embedder.descriptor;
  const gallery = createGallery({ embedder: d.name, dim: d.output.size, metric: d.distance, thresholds: defaultThresholds(d.distance, d.defaultThreshold) });
  return { store, gallery, created: true };
}

export function listOption(value: string): string[] {
  const items = value.split(',').map((s) => s.trim()).filter(Boolean);
  if (items.length === 0) throw new InvalidArgumentError('expected a comma-separated list, e.g. alice,bob');
  return items;
}

export function fraction(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!(n > 0 && n < 1)) throw new InvalidArgumentError(`${name} must be a number between 0 and 1 (exclusive), got "${value}"`);
    return n;
  };
}
