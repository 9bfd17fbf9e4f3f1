/**
 * Finds model descriptors (built-in ones in models/descriptors, plus `*.model.json` files in a
 * user's model directory), resolves their files and verifies each file's sha256 before use.
 */
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { defaultModelDir, projectRoot } from '../util/paths';
import {
  DetectorDescriptor,
  EmbedderDescriptor,
  ModelDescriptor,
  parseDescriptor,
} from './descriptor';

export interface RegistryOptions {
  /** Extra model directory (`--model-dir`): searched first for files and for `*.model.json` descriptors. */
  modelDir?: string;
}

export interface ResolvedEmbedder {
  descriptor: EmbedderDescriptor;
  path: string;
}

export interface ResolvedDetector {
  descriptor: DetectorDescriptor;
  /** Absolute path per file role. */
  paths: Record<string, string>;
}

export class ModelFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ModelFileError';
  }
}

interface Entry {
  descriptor: ModelDescriptor;
  /** Directory the descriptor came from; its files are searched there first for user descriptors. */
  origin: 'builtin' | string;
}

function readDescriptors(dir: string, filter: (name: string) => boolean): ModelDescriptor[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter(filter)
    .sort()
    .map((name) => {
      const file = path.join(dir, name);
      let json: unknown;
      try {
        json = JSON.parse(readFileSync(file, 'utf8'));
      } catch (err) {
        throw new Error(`model descriptor ${file} is not valid JSON: ${(err as Error).message}`);
      }
      return parseDescriptor(json, file);
    });
}

export class ModelRegistry {
  private readonly entries = new Map<string, Entry>();
  private readonly searchDirs: string[];

  constructor(private readonly options: RegistryOptions = {}) {
    const builtinDir = path.join(projectRoot(), 'models', 'descriptors');
    for (const d of readDescriptors(builtinDir, (n) => n.endsWith('.json'))) {
      this.entries.set(d.name, { descriptor: d, origin: 'builtin' });
    }
    if (options.modelDir) {
      if (!existsSync(options.modelDir) || !statSync(options.modelDir).isDirectory()) {
        throw new Error(`--model-dir ${options.modelDir} is not a directory`);
      }
      for (const d of readDescriptors(options.modelDir, (n) => n.endsWith('.model.json'))) {
        this.entries.set(d.name, { descriptor: d, origin: options.modelDir });
      }
    }
    this.searchDirs = [options.modelDir, defaultModelDir()].filter((d): d is string => !!d);
  }

  list(kind?: ModelDescriptor['kind']): ModelDescriptor[] {
    return [...this.entries.values()]
      .map((e) => e.descriptor)
      .filter((d) => !kind || d.kind === kind);
  }

  get(name: string): ModelDescriptor {
    const entry = this.entries.get(name);
    if (!entry) {
      const known = [...this.entries.keys()].sort().join(', ');
      throw new Error(`unknown model "${name}"; known models: ${known}`);
    }
    return entry.descriptor;
  }

  /** Returns the file's path after checking it exists and its sha256 matches the descriptor. */
  resolveFile(descriptor: ModelDescriptor, file: string, sha256: string): string {
    const candidates = this.searchDirs.map((d) => path.resolve(d, file));
    const found = candidates.find((c) => existsSync(c));
    if (!found) {
      throw new ModelFileError(
        `model "${descriptor.name}": file ${file} not found (looked in ${candidates.join(', ')}). ` +
          `Expected sha256 ${sha256}. How to get it: ${descriptor.obtain}`,
      );
    }
    const actual = sha256File(found);
    if (actual !== sha256) {
      throw new ModelFileError(
        `model "${descriptor.name}": file ${found} has sha256 ${actual}, expected ${sha256}; ` +
          `it is the wrong or a corrupt file. How to get the right one: ${descriptor.obtain}`,
      );
    }
    return found;
  }

  embedder(name: string): ResolvedEmbedder {
    const d = this.get(name);
    if (d.kind !== 'embedder') throw new Error(`model "${name}" is a ${d.kind}, not an embedder`);
    return { descriptor: d, path: this.resolveFile(d, d.file, d.sha256) };
  }

  detector(name: string): ResolvedDetector {
    const d = this.get(name);
    if (d.kind !== 'detector') throw new Error(`model "${name}" is a ${d.kind}, not a detector`);
    const paths: Record<string, string> = {};
    for (const [role, ref] of Object.entries(d.files)) paths[role] = this.resolveFile(d, ref.file, ref.sha256);
    return { descriptor: d, paths };
  }
}

const hashCache = new Map<string, { size: number; mtimeMs: number; hash: string }>();

/** sha256 of a file, cached by path, size and mtime (start-up checks must not re-hash per call). */
export function sha256File(file: string): string {
  const st = statSync(file);
  const cached = hashCache.get(file);
  if (cached && cached.size === st.size && cached.mtimeMs === st.mtimeMs) return cached.hash;
  const hash = createHash('sha256').update(readFileSync(file)).digest('hex');
  hashCache.set(file, { size: st.size, mtimeMs: st.mtimeMs, hash });
  return hash;
}

export async function sha256FileAsync(file: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(file)) h.update(chunk as Buffer);
  return h.digest('hex');
}
