/**
 * Seeded synthetic galleries for bench:distributed: 128-d unit embeddings shaped like real ones, one enrolled
 * positive per identity, and per-identity linear SVM weights and biases.
 *
 * Why not uniform random unit vectors: real face embeddings are far from isotropic, and that matters to HNSW
 * (uniform 128-d points have no neighbourhood structure: at 100k points, M 16 / efConstruction 100 / ef 128 found
 * the exact nearest neighbour for only 95% of queries, at ~3x the time it takes on the data below). So the
 * geometry is taken from real faces: lfw-dev (190 faces of 70 people, mtcnn + faceapi-resnet128, measured once
 * for this bench) has a common component of norm 0.92 (the mean of the unit embeddings) and a residual of total
 * variance 0.158 whose covariance eigenvalues (LFW_SPECTRUM, as fractions, largest first) give a participation
 * ratio of 23; faces of one person have cosine 0.953 +- 0.014, of different people 0.84 +- 0.033. Here:
 *
 *   identity i:  r_i ~ N(0, diag(s · V · LFW_SPECTRUM)),        s = 1 / 1.39, V = 0.158
 *   a face of i: normalise(mu + r_i + n),  n ~ N(0, diag((1 - s) · V · LFW_SPECTRUM))
 *   a stranger:  the same with a fresh r
 *
 * so two faces of one person share 72% of their residual variance (cosine ~0.95) and faces of different people
 * come out at cosine ~0.84 +- 0.033, as measured. mu lies along the last axis, where the spectrum is ~0 (the mean
 * is orthogonal to the variation, as in the data). Axes are the eigenvectors (inner products do not care about a
 * rotation).
 *
 * SVM (synthesised, not trained: training 1M one-vs-rest SVMs is not what is measured): w_i = A · c_i, the
 * identity's centroid direction c_i = normalise(mu + r_i) (its noise-free face), b_i = -A · 0.914 + 0.05 · N(0, 1),
 * A = 15.6: the score is a scaled cosine to the centroid, ~+1 for a face of i (cosine ~0.978) and ~-1 +- 0.55 for
 * other people (~0.85 +- 0.035); the jitter keeps the SVM ranking from being exactly the nearest-centroid ranking.
 *
 * Deterministic: identity i's numbers come from its own generator seeded by (seed, i), so a probe of identity i
 * can be made without keeping r_i, and galleries of every size share their first identities.
 */
import { rng32 } from '../../src/match/svm';

export const DIM = 128;

/** Residual covariance eigenvalues of lfw-dev faceapi-resnet128 embeddings, as fractions of 0.158 (see above). */
export const LFW_SPECTRUM: readonly number[] = [0.117,0.088,0.0585,0.0548,0.0468,0.0441,0.0397,0.0366,0.0332,0.0303,0.028,0.0252,0.0239,0.0213,0.0209,0.0188,0.0182,0.0164,0.0158,0.0152,0.0148,0.0137,0.0127,0.0117,0.0109,0.0108,0.00969,0.00878,0.00857,0.00831,0.008,0.00714,0.00697,0.00648,0.00627,0.00574,0.00563,0.00538,0.0052,0.00487,0.00457,0.00418,0.00401,0.00396,0.00367,0.00359,0.00344,0.0033,0.00326,0.00298,0.00284,0.00269,0.00251,0.00243,0.0022,0.0022,0.00212,0.00199,0.00185,0.0018,0.00178,0.00163,0.00148,0.00136,0.00131,0.00121,0.00113,0.000998,0.000929,0.00088,0.00078,0.000741,0.000644,0.000578,0.000413,0.000321,0.000157,0.00000857,0.00000161,4.99e-7,1.73e-7,1.13e-7,5.79e-8,5.56e-8,4.93e-8,4.22e-8,3.99e-8,3.78e-8,3.47e-8,3.27e-8,2.68e-8,2.51e-8,2.37e-8,2.27e-8,2.15e-8,2.01e-8,1.83e-8,1.71e-8,1.59e-8,1.54e-8,1.4e-8,1.31e-8,1.23e-8,1.13e-8,1.01e-8,9.33e-9,8.97e-9,8.21e-9,7.76e-9,7.2e-9,6.58e-9,6.12e-9,5.62e-9,5.18e-9,5e-9,4.63e-9,4.4e-9,3.91e-9,3.29e-9,3.04e-9,2.92e-9,2.59e-9,2.19e-9,1.89e-9,1.77e-9,1.54e-9,1.18e-9,1.14e-9];

const MEAN_NORM = 0.92;
const RESIDUAL_VARIANCE = 0.158;
const IDENTITY_SHARE = 1 / 1.39;
const SVM_SCALE = 15.6;
const SVM_OFFSET = 0.914;
const SVM_JITTER = 0.05;

/** Seeded uniform [0, 1) (mulberry32, as svm.ts seeds its training). */
export function uniform(seed: number): () => number {
  const next = rng32(seed);
  return () => next() / 4294967296;
}

/** Standard normal draws (Box-Muller, both values used). */
export function normal(seed: number): () => number {
  const u = uniform(seed);
  let spare = NaN;
  return () => {
    if (spare === spare) {
      const s = spare;
      spare = NaN;
      return s;
    }
    const r = Math.sqrt(-2 * Math.log(1 - u()));
    const t = 2 * Math.PI * u();
    spare = r * Math.sin(t);
    return r * Math.cos(t);
  };
}

/** FNV-1a of (seed, i, stream): independent generator seeds per identity and purpose. */
function mix(seed: number, i: number, stream: number): number {
  let h = 0x811c9dc5;
  for (const v of [seed, i, stream]) {
    for (let b = 0; b < 4; b++) {
      h ^= (v >>> (8 * b)) & 255;
      h = Math.imul(h, 0x01000193) >>> 0;
    }
  }
  return h;
}

const SD_IDENTITY = LFW_SPECTRUM.map((f) => Math.sqrt(f * RESIDUAL_VARIANCE * IDENTITY_SHARE));
const SD_FACE = LFW_SPECTRUM.map((f) => Math.sqrt(f * RESIDUAL_VARIANCE * (1 - IDENTITY_SHARE)));

function residual(g: () => number, out: Float64Array): Float64Array {
  for (let j = 0; j < DIM; j++) out[j] = SD_IDENTITY[j] * g();
  return out;
}

/** normalise(mu + r + face noise) into out. */
function face(r: Float64Array, g: () => number, out: Float32Array): Float32Array {
  const v = new Float64Array(DIM);
  let s = 0;
  for (let j = 0; j < DIM; j++) {
    v[j] = r[j] + SD_FACE[j] * g() + (j === DIM - 1 ? MEAN_NORM : 0);
    s += v[j] * v[j];
  }
  const k = 1 / Math.sqrt(s);
  for (let j = 0; j < DIM; j++) out[j] = v[j] * k;
  return out;
}

export interface SyntheticGallery {
  n: number;
  seed: number;
  /** n x DIM: identity i's enrolled positive (unit). */
  embeddings: Float32Array;
  /** n x DIM SVM weights and n biases. */
  weights: Float32Array;
  bias: Float32Array;
}

/** Identity i's residual (regenerated from (seed, i)). */
function identityResidual(seed: number, i: number): Float64Array {
  return residual(normal(mix(seed, i, 1)), new Float64Array(DIM));
}

export function makeGallery(n: number, seed: number, onProgress?: (done: number) => void): SyntheticGallery {
  const embeddings = new Float32Array(n * DIM);
  const weights = new Float32Array(n * DIM);
  const bias = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const r = identityResidual(seed, i);
    const g = normal(mix(seed, i, 2));
    face(r, g, embeddings.subarray(i * DIM, (i + 1) * DIM));
    let s = MEAN_NORM * MEAN_NORM;
    for (let j = 0; j < DIM - 1; j++) s += r[j] * r[j];
    s += r[DIM - 1] * (r[DIM - 1] + 2 * MEAN_NORM);
    const k = SVM_SCALE / Math.sqrt(s);
    for (let j = 0; j < DIM; j++) weights[i * DIM + j] = k * (r[j] + (j === DIM - 1 ? MEAN_NORM : 0));
    bias[i] = -SVM_SCALE * SVM_OFFSET + SVM_JITTER * g();
    if (onProgress && (i + 1) % 100000 === 0) onProgress(i + 1);
  }
  return { n, seed, embeddings, weights, bias };
}

export interface Probes {
  probes: Float32Array[];
  /** The identity a probe is a face of; -1 for strangers. */
  identity: Int32Array;
}

/** count probes: even ones faces of random enrolled identities, odd ones strangers. */
export function makeProbes(g: Pick<SyntheticGallery, 'n' | 'seed'>, count: number, probeSeed: number): Probes {
  const pick = uniform(mix(g.seed, probeSeed, 3));
  const probes: Float32Array[] = [];
  const identity = new Int32Array(count);
  for (let q = 0; q < count; q++) {
    const noise = normal(mix(probeSeed, q, 4));
    if (q % 2 === 0) {
      const i = Math.floor(pick() * g.n);
      identity[q] = i;
      probes.push(face(identityResidual(g.seed, i), noise, new Float32Array(DIM)));
    } else {
      identity[q] = -1;
      probes.push(face(residual(noise, new Float64Array(DIM)), noise, new Float32Array(DIM)));
    }
  }
  return { probes, identity };
}
