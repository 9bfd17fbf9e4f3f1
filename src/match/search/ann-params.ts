/**
 * Parameters of the approximate gallery index (ann-index.ts), apart from it so that the configuration schema can
 * use the defaults without loading the native library.
 */

export type AnnQuantization = 'i8' | 'f16' | 'f32';

/** How the graph's nodes are ordered in memory (usearch-layout.ts). */
export type GraphLayout = 'breadth-first' | 'insertion';

export interface AnnParams {
  /** Graph degree M (layer 0 keeps 2M links per row: ~8M bytes per row on top of the row itself). */
  connectivity: number;
  /** Build-time beam (efConstruction). */
  expansionAdd: number;
  /** Query-time beam (efSearch): the speed/recall knob. */
  expansionSearch: number;
  /** Rows asked of the graph per query and re-scored exactly (>= the k asked of search()). */
  candidates: number;
  /** How the graph stores rows. */
  quantization: AnnQuantization;
  /** Native threads for builds and batched searches (0: one per core). */
  threads: number;
  /** Share of the scores' variance (estimated) the projection's dropped axes may carry (0: keep every axis). */
  discardVariance: number;
}

/**
 * Defaults from bench:distributed at 1M synthetic scorers (2 shared cores): M 48 with expansionAdd 400 reaches
 * recall@1 0.99 at a smaller search beam than M 32 or expansionAdd 200 (a search costs ~ beam x 2M row visits);
 * expansionAdd 800 took 28 minutes and gained nothing (0.986 / 0.992 at beam 160 / 192). expansionSearch 192 gives
 * recall@1 0.990-0.992 (batches of 64; times in the README); the build takes ~12 minutes. 32 candidates: with the
 * rounded 8-bit rows, 24 already find what 64 find (recall@1 0.9902 at beam 192, 0.9851 at 160, 4096 probes at 1M;
 * 0.9983 at 100k), 16 lose some (0.9895); each candidate re-scored costs ~1 us (a float32 row fetched from the
 * gallery's memory), so 32 instead of 64 saves ~30 us per embedding. discardVariance 3e-4 keeps 63 of 129 axes at
 * 1M, so an 8-bit row is 64 bytes (two cache lines) instead of 77 with 1e-5: faster and no less recall
 * (ann-reduction.ts).
 */
export const DEFAULT_ANN: AnnParams = { connectivity: 48, expansionAdd: 400, expansionSearch: 192, candidates: 32, quantization: 'i8', threads: 0, discardVariance: 3e-4 };

export function checkParams(p: AnnParams): void {
  const ints: [keyof AnnParams, number][] = [['connectivity', 2], ['expansionAdd', 1], ['expansionSearch', 1], ['candidates', 1], ['threads', 0]];
  for (const [name, min] of ints) {
    const v = p[name] as number;
    if (!Number.isInteger(v) || v < min) throw new RangeError(`ANN index ${name} must be an integer >= ${min}, got ${v}`);
  }
  if (!(p.discardVariance >= 0 && p.discardVariance < 1)) throw new RangeError(`ANN index discardVariance must be in [0, 1), got ${p.discardVariance}`);
  if (!['i8', 'f16', 'f32'].includes(p.quantization)) throw new RangeError(`ANN index quantization must be i8, f16 or f32, got ${JSON.stringify(p.quantization)}`);
}
