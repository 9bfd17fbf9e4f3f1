/** Distances between embeddings, as the descriptor's `distance` names them. */

export type DistanceKind = 'cosine' | 'euclidean';

/**
 * cosine: 1 - a·b / (|a| |b|), in 0..2 (0 = same direction; a zero vector is at distance 1 from
 * anything). euclidean: |a - b|. Throws when the lengths differ.
 */
export function distance(a: ArrayLike<number>, b: ArrayLike<number>, kind: DistanceKind): number {
  const n = a.length;
  if (b.length !== n) throw new RangeError(`embedding lengths differ: ${n} and ${b.length}`);
  if (kind === 'euclidean') {
    let s = 0;
    for (let i = 0; i < n; i++) {
      const d = a[i] - b[i];
      s += d * d;
    }
    return Math.sqrt(s);
  }
  if (kind !== 'cosine') throw new RangeError(`unknown distance "${String(kind)}", expected cosine or euclidean`);
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < n; i++) {
    dot += a[i] * b[i];
    na += a[i] * a[i];
    nb += b[i] * b[i];
  }
  if (na === 0 || nb === 0) return 1;
  return 1 - dot / Math.sqrt(na * nb);
}

/** Scales each `size`-long row of `v` (the first `rows` rows) to unit L2 norm, in place; zero rows stay zero. */
export function l2normalizeRows(v: Float32Array, rows: number, size: number): void {
  for (let r = 0; r < rows; r++) {
    const o = r * size;
    let s = 0;
    for (let i = 0; i < size; i++) s += v[o + i] * v[o + i];
    if (s === 0) continue;
    const k = 1 / Math.sqrt(s);
    for (let i = 0; i < size; i++) v[o + i] *= k;
  }
}
