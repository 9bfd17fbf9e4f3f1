/**
 * Small measuring helpers of bench:distributed. (bench/embed.ts has its own median and random crops inside its
 * main module, which runs on import; it could import these instead.)
 */
import type { Crop } from '../../src/embed/preprocess';

export function median(xs: readonly number[]): number {
  return quantile(xs, 0.5);
}

/** Linear-interpolated quantile (q in [0, 1]); NaN for no values. */
export function quantile(xs: readonly number[], q: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const at = q * (s.length - 1);
  const lo = Math.floor(at);
  const hi = Math.min(s.length - 1, lo + 1);
  return s[lo] + (s[hi] - s[lo]) * (at - lo);
}

/** Deterministic noise crops (mulberry32), BGR uint8 of the given size. */
export function noiseCrops(n: number, width: number, height: number, seed: number): Crop[] {
  let a = seed >>> 0;
  const next = (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
  return Array.from({ length: n }, () => {
    const data = new Uint8Array(width * height * 3);
    for (let i = 0; i < data.length; i += 4) {
      const v = next();
      data[i] = v & 255;
      if (i + 1 < data.length) data[i + 1] = (v >>> 8) & 255;
      if (i + 2 < data.length) data[i + 2] = (v >>> 16) & 255;
      if (i + 3 < data.length) data[i + 3] = v >>> 24;
    }
    return { width, height, data };
  });
}

/**
 * Runs `a` and `b` alternately (a b, b a, a b, ...) after `warmup` rounds, until both ran at least `minRounds`
 * times and `seconds` passed, so that load from other processes on shared cores falls on both. Returns each
 * call's milliseconds.
 */
export async function alternate(
  a: () => Promise<unknown>,
  b: () => Promise<unknown>,
  opts: { seconds: number; minRounds: number; warmup?: number; maxRounds?: number },
): Promise<{ a: number[]; b: number[] }> {
  for (let i = 0; i < (opts.warmup ?? 1); i++) {
    await a();
    await b();
  }
  const times = { a: [] as number[], b: [] as number[] };
  const t0 = performance.now();
  for (let i = 0; ; i++) {
    const done = times.a.length >= opts.minRounds && performance.now() - t0 >= opts.seconds * 1000;
    if (done || times.a.length >= (opts.maxRounds ?? Infinity)) break;
    for (const which of i % 2 === 0 ? (['a', 'b'] as const) : (['b', 'a'] as const)) {
      const s = performance.now();
      await (which === 'a' ? a() : b());
      times[which].push(performance.now() - s);
    }
  }
  return times;
}

/** Formats a table: header cells then rows, right-aligned to the widest cell of each column. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => (r[c] ?? '').length)));
  const line = (cells: string[]): string => cells.map((x, c) => x.padStart(widths[c])).join('  ');
  return [line(header), ...rows.map(line)].join('\n') + '\n';
}

export function fmt(x: number, digits = 2): string {
  return Number.isFinite(x) ? x.toFixed(digits) : String(x);
}
