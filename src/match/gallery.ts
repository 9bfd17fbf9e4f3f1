/**
 * The gallery: enrolled identities, their embeddings, watchlists and the open-set thresholds.
 *
 * Pure data and pure operations (no I/O). A Gallery is treated as immutable: every operation
 * returns a new Gallery (shallow copies; embedding arrays are shared and must never be written
 * to) with `version` incremented by one. Unchanged parts keep their object identity, so a
 * watchlist or threshold change leaves `gallery.identities` the same array, which lets the
 * trainer skip retraining when only non-training data changed.
 *
 * Embeddings are biometric data: nothing here logs or formats embedding values into errors.
 */

export type DistanceMetric = 'cosine' | 'euclidean';

export interface Identity {
  /** Slug: lowercase letters, digits and single dashes (`jane-doe`, `jane-doe-2`). */
  id: string;
  name: string;
  /** Positive examples, L2-normalised copies of what was enrolled. */
  embeddings: Float32Array[];
  /** Negative examples: faces confirmed "not this person" (e.g. a rejected look-alike alert). */
  negatives: Float32Array[];
  /** ISO 8601. */
  createdAt: string;
}

export interface Watchlist {
  name: string;
  identities: string[];
  /** Only active watchlists alert. */
  active: boolean;
}

export interface Thresholds {
  /** Minimum top SVM score (w·x + b) to report an identity. */
  svm: number;
  /** Maximum distance (gallery metric) from the probe to the identity's nearest enrolled positive. */
  distance: number;
  /** The false-positive identification rate the thresholds were calibrated for. */
  targetFpir?: number;
  /** What calibration measured on its unknowns / leave-one-out probes. */
  achievedFpir?: number;
  estimatedFnir?: number;
  /** ISO 8601 time of calibration. */
  calibratedAt?: string;
  /** Number of unknown (non-enrolled) faces calibration used. */
  calibrationSize?: number;
}

export interface Gallery {
  /** Incremented by every mutation. */
  version: number;
  /** Embedder model name; embeddings from another model are refused. */
  embedder: string;
  /** Embedding length. */
  dim: number;
  /** How the embedder's embeddings are compared (its descriptor's `distance`). */
  metric: DistanceMetric;
  identities: Identity[];
  watchlists: Watchlist[];
  thresholds: Thresholds;
}

/** Name of the watchlist every newly enrolled identity is put on. */
export const DEFAULT_WATCHLIST = 'default';

/**
 * Uncalibrated thresholds: the SVM decision boundary (score 0) and a conservative distance
 * (cosine 0.4, the equivalent euclidean distance on unit vectors sqrt(2 * 0.4) ~ 0.894).
 * Calibrate with unknown faces (calibrate.ts) before relying on them.
 */
export function defaultThresholds(metric: DistanceMetric, distance?: number): Thresholds {
  return { svm: 0, distance: distance ?? (metric === 'cosine' ? 0.4 : Math.sqrt(0.8)) };
}

export interface CreateGalleryOptions {
  embedder: string;
  dim: number;
  metric: DistanceMetric;
  /** Initial thresholds; default defaultThresholds(metric, descriptor's defaultThreshold). */
  thresholds?: Thresholds;
}

/** An empty gallery (version 0) with the default watchlist, active. */
export function createGallery(options: CreateGalleryOptions): Gallery {
  if (!options.embedder) throw new Error('createGallery: embedder name is required');
  if (!Number.isInteger(options.dim) || options.dim <= 0) {
    throw new RangeError(`createGallery: dim must be a positive integer, got ${options.dim}`);
  }
  if (options.metric !== 'cosine' && options.metric !== 'euclidean') {
    throw new RangeError(`createGallery: metric must be "cosine" or "euclidean", got "${String(options.metric)}"`);
  }
  return {
    version: 0,
    embedder: options.embedder,
    dim: options.dim,
    metric: options.metric,
    identities: [],
    watchlists: [{ name: DEFAULT_WATCHLIST, identities: [], active: true }],
    thresholds: options.thresholds ?? defaultThresholds(options.metric),
  };
}

const SLUG = /^[a-z0-9]+(?:-[a-z0-9]+)*$/;

export function isSlug(s: string): boolean {
  return SLUG.test(s);
}

/** "Jane O'Doe" -> "jane-o-doe"; accents are stripped; "person" when nothing is left. */
export function slugify(name: string): string {
  const s = name
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');
  return s || 'person';
}

export function findIdentity(gallery: Gallery, id: string): Identity | undefined {
  return gallery.identities.find((i) => i.id === id);
}

function requireIdentity(gallery: Gallery, id: string): Identity {
  const found = findIdentity(gallery, id);
  if (!found) throw new Error(`unknown identity "${id}"`);
  return found;
}

/**
 * Checks the model and length, and returns L2-normalised copies. Refuses non-finite values and
 * zero vectors. `embedder` is the name of the model that produced the embeddings.
 */
export function normalizeEmbeddings(gallery: Gallery, embedder: string, embeddings: readonly Float32Array[]): Float32Array[] {
  if (embedder !== gallery.embedder) {
    throw new Error(
      `embeddings from model "${embedder}" refused: this gallery holds "${gallery.embedder}" embeddings ` +
        '(embeddings of different models are not comparable)',
    );
  }
  return embeddings.map((e, i) => {
    if (!(e instanceof Float32Array)) throw new TypeError(`embedding ${i}: expected a Float32Array`);
    if (e.length !== gallery.dim) {
      throw new RangeError(`embedding ${i} has ${e.length} values, ${gallery.dim} expected (${gallery.embedder})`);
    }
    let s = 0;
    for (let k = 0; k < e.length; k++) s += e[k] * e[k];
    if (!Number.isFinite(s)) throw new RangeError(`embedding ${i} holds non-finite values`);
    if (s === 0) throw new RangeError(`embedding ${i} is all zeros`);
    const out = new Float32Array(e.length);
    const inv = 1 / Math.sqrt(s);
    for (let k = 0; k < e.length; k++) out[k] = e[k] * inv;
    return out;
  });
}

function bump(gallery: Gallery, changes: Partial<Gallery>): Gallery {
  return { ...gallery, ...changes, version: gallery.version + 1 };
}

export interface EnrolInput {
  name: string;
  /** Default: slugify(name), with "-2", "-3"... appended when taken. */
  id?: string;
  /** Model that produced the embeddings; must equal gallery.embedder. */
  embedder: string;
  embeddings: readonly Float32Array[];
  negatives?: readonly Float32Array[];
  /** Default: now. */
  createdAt?: string;
}

/**
 * Enrols a new identity. Every new identity is put on the watchlist named "default"
 * (DEFAULT_WATCHLIST), which is created active if it does not exist (a deactivated "default"
 * stays deactivated): enrolling someone means you want to be alerted about them unless you say
 * otherwise. Use removeFromWatchlist to take them off.
 */
export function addIdentity(gallery: Gallery, input: EnrolInput): { gallery: Gallery; identity: Identity } {
  const name = input.name.trim();
  if (!name) throw new Error('identity name must not be empty');
  let id: string;
  if (input.id !== undefined) {
    if (!isSlug(input.id)) {
      throw new Error(`identity id "${input.id}" is not a slug (lowercase letters and digits separated by single dashes)`);
    }
    if (findIdentity(gallery, input.id)) throw new Error(`identity "${input.id}" already exists`);
    id = input.id;
  } else {
    const base = slugify(name);
    id = base;
    for (let n = 2; findIdentity(gallery, id); n++) id = `${base}-${n}`;
  }
  if (input.embeddings.length === 0) throw new Error(`identity "${id}": at least one embedding is required`);
  const identity: Identity = {
    id,
    name,
    embeddings: normalizeEmbeddings(gallery, input.embedder, input.embeddings),
    negatives: normalizeEmbeddings(gallery, input.embedder, input.negatives ?? []),
    createdAt: input.createdAt ?? new Date().toISOString(),
  };
  const hasDefault = gallery.watchlists.some((w) => w.name === DEFAULT_WATCHLIST);
  const watchlists = hasDefault
    ? gallery.watchlists.map((w) => (w.name === DEFAULT_WATCHLIST ? { ...w, identities: [...w.identities, id] } : w))
    : [...gallery.watchlists, { name: DEFAULT_WATCHLIST, identities: [id], active: true }];
  return { gallery: bump(gallery, { identities: [...gallery.identities, identity], watchlists }), identity };
}

/** Removes the identity and takes it off every watchlist. */
export function removeIdentity(gallery: Gallery, id: string): Gallery {
  requireIdentity(gallery, id);
  return bump(gallery, {
    identities: gallery.identities.filter((i) => i.id !== id),
    watchlists: gallery.watchlists.map((w) =>
      w.identities.includes(id) ? { ...w, identities: w.identities.filter((x) => x !== id) } : w,
    ),
  });
}

function replaceIdentity(gallery: Gallery, id: string, change: (i: Identity) => Identity): Gallery {
  requireIdentity(gallery, id);
  return bump(gallery, { identities: gallery.identities.map((i) => (i.id === id ? change(i) : i)) });
}

export function addEmbeddings(gallery: Gallery, id: string, embedder: string, embeddings: readonly Float32Array[]): Gallery {
  const add = normalizeEmbeddings(gallery, embedder, embeddings);
  return replaceIdentity(gallery, id, (i) => ({ ...i, embeddings: [...i.embeddings, ...add] }));
}

/** Records faces that are "not this identity" (they become negatives of its SVM and of the open-set rule). */
export function addNegatives(gallery: Gallery, id: string, embedder: string, negatives: readonly Float32Array[]): Gallery {
  const add = normalizeEmbeddings(gallery, embedder, negatives);
  return replaceIdentity(gallery, id, (i) => ({ ...i, negatives: [...i.negatives, ...add] }));
}

function requireWatchlist(gallery: Gallery, name: string): Watchlist {
  const found = gallery.watchlists.find((w) => w.name === name);
  if (!found) throw new Error(`unknown watchlist "${name}"`);
  return found;
}

export function createWatchlist(gallery: Gallery, name: string, options: { active?: boolean; identities?: string[] } = {}): Gallery {
  if (!name.trim()) throw new Error('watchlist name must not be empty');
  if (gallery.watchlists.some((w) => w.name === name)) throw new Error(`watchlist "${name}" already exists`);
  const ids = [...new Set(options.identities ?? [])];
  for (const id of ids) requireIdentity(gallery, id);
  return bump(gallery, { watchlists: [...gallery.watchlists, { name, identities: ids, active: options.active ?? true }] });
}

export function deleteWatchlist(gallery: Gallery, name: string): Gallery {
  requireWatchlist(gallery, name);
  return bump(gallery, { watchlists: gallery.watchlists.filter((w) => w.name !== name) });
}

function replaceWatchlist(gallery: Gallery, name: string, change: (w: Watchlist) => Watchlist): Gallery {
  requireWatchlist(gallery, name);
  return bump(gallery, { watchlists: gallery.watchlists.map((w) => (w.name === name ? change(w) : w)) });
}

export function addToWatchlist(gallery: Gallery, name: string, ids: readonly string[]): Gallery {
  for (const id of ids) requireIdentity(gallery, id);
  return replaceWatchlist(gallery, name, (w) => ({ ...w, identities: [...new Set([...w.identities, ...ids])] }));
}

export function removeFromWatchlist(gallery: Gallery, name: string, ids: readonly string[]): Gallery {
  const drop = new Set(ids);
  return replaceWatchlist(gallery, name, (w) => ({ ...w, identities: w.identities.filter((x) => !drop.has(x)) }));
}

export function setWatchlistActive(gallery: Gallery, name: string, active: boolean): Gallery {
  return replaceWatchlist(gallery, name, (w) => ({ ...w, active }));
}

/** Stores thresholds (e.g. calibrate()'s result) with the gallery. */
export function setThresholds(gallery: Gallery, thresholds: Thresholds): Gallery {
  if (!Number.isFinite(thresholds.svm) || !(thresholds.distance >= 0 && Number.isFinite(thresholds.distance))) {
    throw new RangeError(`invalid thresholds: svm must be finite and distance finite and >= 0 (got ${thresholds.svm}, ${thresholds.distance})`);
  }
  return bump(gallery, { thresholds: { ...thresholds } });
}

/**
 * The names of the active watchlists that hold `id`: an accepted match alerts when this is not
 * empty. Inactive watchlists never alert.
 */
export function isOnActiveWatchlist(gallery: Gallery, id: string): string[] {
  return gallery.watchlists.filter((w) => w.active && w.identities.includes(id)).map((w) => w.name);
}
