/**
 * Synthetic face-like embeddings for the matching tests: identities are random directions on the
 * 128-d unit sphere, a face of identity c is normalise(c + sigma * N(0, I)). With sigma 0.1 a face
 * has cosine ~0.66 to its centre and two faces of one person ~0.44, while different people are
 * ~0 +- 0.09, roughly the geometry of real face embeddings. Look-alikes are centres at a chosen
 * cosine to an enrolled one: they are what makes open-set rejection hard.
 */
import { type Gallery, addIdentity, createGallery } from '../../src/match/gallery';
import { rng32 } from '../../src/match/svm';

export const DIM = 128;
export const EMBEDDER = 'synthetic-128';

export type Rng = () => number;

export function rng(seed: number): Rng {
  const next = rng32(seed);
  return () => next() / 4294967296;
}

export function gaussian(r: Rng): number {
  const u = 1 - r();
  const v = r();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

export function normalise(v: ArrayLike<number>): Float32Array {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i] * v[i];
  const k = 1 / Math.sqrt(s);
  return Float32Array.from(v as ArrayLike<number>, (x) => x * k);
}

export function randomUnit(r: Rng, dim = DIM): Float32Array {
  return normalise(Array.from({ length: dim }, () => gaussian(r)));
}

/** A face of the person whose centre is `c`. */
export function face(r: Rng, c: Float32Array, sigma = 0.1): Float32Array {
  return normalise(Array.from(c, (x) => x + sigma * gaussian(r)));
}

/** A unit centre at cosine `cos` to `c`. */
export function lookalike(r: Rng, c: Float32Array, cos: number): Float32Array {
  const n = randomUnit(r, c.length);
  let d = 0;
  for (let i = 0; i < c.length; i++) d += n[i] * c[i];
  const ortho = normalise(Array.from(n, (x, i) => x - d * c[i]));
  const s = Math.sqrt(1 - cos * cos);
  return normalise(Array.from(c, (x, i) => cos * x + s * ortho[i]));
}

export interface World {
  gallery: Gallery;
  centres: Float32Array[];
}

/** A gallery of `ids` synthetic people with `per` faces each (ids "p0", "p1", ...). */
export function makeWorld(r: Rng, ids: number, per = 5, sigma = 0.1, metric: 'cosine' | 'euclidean' = 'cosine'): World {
  let gallery = createGallery({ embedder: EMBEDDER, dim: DIM, metric });
  const centres: Float32Array[] = [];
  for (let i = 0; i < ids; i++) {
    const c = randomUnit(r);
    centres.push(c);
    const embeddings = Array.from({ length: per }, () => face(r, c, sigma));
    gallery = addIdentity(gallery, { id: `p${i}`, name: `Person ${i}`, embedder: EMBEDDER, embeddings, createdAt: '2025-01-01T00:00:00.000Z' }).gallery;
  }
  return { gallery, centres };
}

/**
 * Faces of people not in the gallery: half strangers at random, half look-alikes of enrolled
 * people (centre cosine drawn in [minCos, maxCos]), one face each.
 */
export function strangers(r: Rng, centres: readonly Float32Array[], n: number, minCos = 0.3, maxCos = 0.6, sigma = 0.1): Float32Array[] {
  const out: Float32Array[] = [];
  for (let i = 0; i < n; i++) {
    if (i % 2 === 0) out.push(face(r, randomUnit(r), sigma));
    else {
      const c = centres[Math.floor(r() * centres.length)];
      out.push(face(r, lookalike(r, c, minCos + (maxCos - minCos) * r()), sigma));
    }
  }
  return out;
}
